package callback

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// TimeFormat is how GES writes times: UTC, milliseconds, Z.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime renders t the way every GES API answers.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Keys is the record as GMS keys: the system keys plus every stored key and
// the user data (as text). Queries filter on it and the GMS API returns it.
func Keys(cb *Callback) map[string]string {
	m := make(map[string]string, len(cb.Props)+12)
	var ud map[string]any
	if len(cb.UserData) > 0 && json.Unmarshal(cb.UserData, &ud) == nil {
		for k, v := range ud {
			m[k] = textOf(v)
		}
	}
	for k, v := range cb.Props {
		m[k] = v
	}
	m[KeyID] = cb.ID
	m[KeyServiceName] = cb.Service
	m[KeyCustomerNumber] = cb.Phone
	m[KeyDesiredTime] = FormatTime(cb.Desired)
	m["_expiration_time"] = FormatTime(cb.Expires)
	m[KeyState] = string(cb.Shown())
	if cb.State.Final() {
		m[KeyReason] = cb.Reason
	}
	if cb.Session != "" {
		m[KeySession] = cb.Session
	}
	return m
}

func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// Filter is one condition of a query by properties: key=value, or
// key=!value for "not value".
type Filter struct {
	Key, Value string
	Not        bool
}

// Query selects callbacks of a tenant.
type Query struct {
	Service string // empty = every service
	Filters []Filter
	Or      bool // combine filters with OR instead of AND
	Limit   int
}

// ParseFilter reads a query parameter the GMS way: a leading ! negates.
func ParseFilter(key, value string) Filter {
	if strings.HasPrefix(value, "!") {
		return Filter{Key: key, Value: value[1:], Not: true}
	}
	return Filter{Key: key, Value: value}
}

// Match reports whether cb satisfies q's filters.
func (q Query) Match(cb *Callback) bool {
	if q.Service != "" && cb.Service != q.Service {
		return false
	}
	if len(q.Filters) == 0 {
		return true
	}
	keys := Keys(cb)
	for _, f := range q.Filters {
		v, ok := keys[f.Key]
		hit := ok && v == f.Value
		if f.Not {
			hit = !hit
		}
		if q.Or && hit {
			return true
		}
		if !q.Or && !hit {
			return false
		}
	}
	return !q.Or
}
