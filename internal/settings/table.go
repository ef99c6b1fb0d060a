// Package settings models the CALLBACK_SETTINGS data table that Designer
// publishes for each tenant: one row per callback service (virtual queue).
// It validates a published table as a whole and keeps the tables in effect.
package settings

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gesgo/ges/internal/schedule"
)

// TableName is the only data table GES reads today.
const TableName = "CALLBACK_SETTINGS"

// Row is one published row: the key (the callback virtual queue name) and its
// columns exactly as Designer sent them. Unknown columns are kept.
type Row struct {
	Key     string         `json:"key"`
	Columns map[string]any `json:"columns"`
}

// Table is a validated, published CALLBACK_SETTINGS table of one tenant.
type Table struct {
	Name     string
	Version  int64
	Rows     []Row
	services map[string]*Service
}

// Service returns the settings of the callback service name.
func (t *Table) Service(name string) (*Service, bool) {
	if t == nil {
		return nil, false
	}
	s, ok := t.services[name]
	return s, ok
}

// Names lists the services of the table, sorted.
func (t *Table) Names() []string {
	if t == nil {
		return nil
	}
	out := make([]string, 0, len(t.services))
	for n := range t.services {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Call directions of a service.
const (
	UserTerminated = "USERTERMINATED"
	UserOriginated = "USERORIGINATED"
)

// Service holds the settings of one callback service (one table row).
type Service struct {
	Name           string
	CallDirection  string
	TimeZone       string
	Location       *time.Location
	BusinessHours  string
	SpecialDays    string
	SlotMinutes    int
	Capacity       int
	OfferImmediate bool
	OfferScheduled bool
	MaxPerNumber   int
	// MaxQueued bounds the callbacks of the service in its queue
	// (GMS max_queued_callbacks_per_service; 0 = no limit).
	MaxQueued int
	// DailyPerNumber bounds the creates for one number per day
	// (GMS _throttle_customer_number_limit; 0 = no limit).
	DailyPerNumber int
	// QueueAhead hands scheduled callbacks to ORS before their desired
	// time by their queue's expected wait (URS) plus QueueBuffer, at most
	// MaxQueueAhead before it and never before their slot starts (GMS
	// _request_ewt_service / _request_execution_time_buffer).
	QueueAhead       bool
	QueueBuffer      time.Duration
	MaxQueueAhead    time.Duration
	HorizonDays      int
	TTL              time.Duration
	RoutePoint       string
	SurveyRoutePoint string
	DialPrefix       string
	DisplayNumber    string
	DisplayName      string
	Application      string
	PushThresholdMin int
	Priority         int
	CapacityRules    string
	// DefaultCountry is the country (ISO 3166 alpha-2) of numbers written
	// without a + (GMS _default_country); NormalizeE164 stores numbers in
	// E.164. DisallowImpossible and DisallowPremium refuse impossible and
	// premium-rate numbers on services with a number rule (GMS
	// _disallow_impossible_phone_numbers, _disallow_premium_phone_numbers).
	DefaultCountry     string
	NormalizeE164      bool
	DisallowImpossible bool
	DisallowPremium    bool
	// Plan is the service's calendar, slots and capacity.
	Plan schedule.Plan
	// Throttles are the rate windows of the service (GMS
	// _throttle_callbacks_per_service_1/_ttl_1 and _2/_ttl_2).
	Throttles [2]Throttle
	// Columns has every column of the row as text, keyed by its published
	// name, so that options GES does not interpret still reach ORS.
	Columns map[string]string
}

// Throttle admits at most Limit callbacks per Window (0 = no limit).
type Throttle struct {
	Limit  int
	Window time.Duration
}

// Defaults of a column that a row leaves out.
const (
	DefaultSlotMinutes  = 15
	DefaultCapacity     = 100
	DefaultMaxPerNumber = 2
	// GMS' default of max_queued_callbacks_per_service.
	DefaultMaxQueued = 1000
	// The creates a number may make per day: the figure GMS documents
	// for _throttle_customer_number_limit.
	DefaultDailyPerNumber = 8
	// The most ahead of its desired time a callback is queued: a queue
	// whose estimate runs to hours says more about its statistics than
	// about when an agent will be free.
	DefaultMaxQueueAhead = time.Hour
	DefaultHorizonDays   = 14
	DefaultTTL           = 24 * time.Hour
)

// UnknownTableError refuses a published table GES does not read.
type UnknownTableError struct{ Name string }

func (e *UnknownTableError) Error() string {
	return fmt.Sprintf("unknown data table %q (expected %s)", e.Name, TableName)
}

// ValidationError names the row and column a publish was refused for.
type ValidationError struct {
	Row    int // 1-based
	Key    string
	Column string
	Msg    string
}

func (e *ValidationError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d (%q): %s", e.Row, e.Key, e.Msg)
	}
	return fmt.Sprintf("row %d (%q), column %q: %s", e.Row, e.Key, e.Column, e.Msg)
}

// column describes how one known column is read into a Service.
type column struct {
	name string
	set  func(s *Service, v string) error
}

// normalize folds a column header so that "Time Zone", "time_zone" and
// "timeZone" name the same column.
func normalize(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var columns = map[string]column{}

func register(set func(s *Service, v string) error, names ...string) {
	for _, n := range names {
		columns[normalize(n)] = column{name: names[0], set: set}
	}
}

func intCol(dst func(*Service) *int, min int) func(*Service, string) error {
	return func(s *Service, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("must be an integer (got %q)", v)
		}
		if n < min {
			return fmt.Errorf("must be at least %d (got %d)", min, n)
		}
		*dst(s) = n
		return nil
	}
}

func boolCol(dst func(*Service) *bool) func(*Service, string) error {
	return func(s *Service, v string) error {
		switch strings.ToLower(v) {
		case "true", "yes", "1", "y", "on":
			*dst(s) = true
		case "false", "no", "0", "n", "off":
			*dst(s) = false
		default:
			return fmt.Errorf("must be true or false (got %q)", v)
		}
		return nil
	}
}

func strCol(dst func(*Service) *string) func(*Service, string) error {
	return func(s *Service, v string) error { *dst(s) = v; return nil }
}

func init() {
	register(func(s *Service, v string) error {
		switch strings.ToUpper(v) {
		case UserTerminated, "IMMEDIATE", "SCHEDULED":
			s.CallDirection = UserTerminated
		case UserOriginated:
			s.CallDirection = UserOriginated
		default:
			return fmt.Errorf("must be USERTERMINATED or USERORIGINATED (got %q)", v)
		}
		return nil
	}, "Callback Type", "Call Direction")
	register(func(s *Service, v string) error {
		loc, err := time.LoadLocation(v)
		if err != nil || v == "" || strings.EqualFold(v, "local") {
			return fmt.Errorf("unknown time zone %q", v)
		}
		s.TimeZone, s.Location = v, loc
		return nil
	}, "Time Zone", "Timezone")
	register(strCol(func(s *Service) *string { return &s.BusinessHours }), "Business Hours")
	register(strCol(func(s *Service) *string { return &s.SpecialDays }), "Special Days")
	register(func(s *Service, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || (n <= 60 && 60%n != 0) || (n > 60 && n%60 != 0) || n > 1440 {
			return fmt.Errorf("must be a divisor of 60 or a whole number of hours (got %q)", v)
		}
		s.SlotMinutes = n
		return nil
	}, "Slot Duration (min)", "Slot Duration", "Slot Duration Minutes")
	register(intCol(func(s *Service) *int { return &s.Capacity }, 0), "Capacity", "Max Capacity Per Slot", "Slot Capacity")
	register(boolCol(func(s *Service) *bool { return &s.OfferImmediate }), "Offer Immediate Callback", "Immediate Callback Enabled")
	register(boolCol(func(s *Service) *bool { return &s.OfferScheduled }), "Offer Scheduled Callback", "Scheduled Callback Enabled")
	register(intCol(func(s *Service) *int { return &s.MaxPerNumber }, 0), "Max Callbacks Per Phone Number", "Max Callbacks Per Number")
	register(intCol(func(s *Service) *int { return &s.MaxQueued }, 0), "Max Queued Callbacks Per Service", "Max Queued Callbacks")
	register(intCol(func(s *Service) *int { return &s.DailyPerNumber }, 0), "Throttle Customer Number Limit", "Max Callbacks Per Number Per Day")
	register(boolCol(func(s *Service) *bool { return &s.QueueAhead }), "Queue Ahead By EWT", "Queue Ahead")
	register(zeroSecondsCol(func(s *Service) *time.Duration { return &s.QueueBuffer }), "Request Execution Time Buffer (seconds)", "Request Execution Time Buffer")
	register(zeroSecondsCol(func(s *Service) *time.Duration { return &s.MaxQueueAhead }), "Max Queue Ahead (seconds)", "Max Queue Ahead")
	register(intCol(func(s *Service) *int { return &s.HorizonDays }, 1), "Scheduling Horizon (days)", "Scheduling Horizon")
	register(func(s *Service, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("must be a positive number of seconds (got %q)", v)
		}
		s.TTL = time.Duration(n) * time.Second
		return nil
	}, "Callback TTL (seconds)", "Callback TTL")
	register(strCol(func(s *Service) *string { return &s.RoutePoint }), "Route Point")
	register(strCol(func(s *Service) *string { return &s.SurveyRoutePoint }), "Survey Route Point")
	register(strCol(func(s *Service) *string { return &s.DialPrefix }), "Dial Prefix")
	register(strCol(func(s *Service) *string { return &s.DisplayNumber }), "Display Number")
	register(strCol(func(s *Service) *string { return &s.DisplayName }), "Display Name")
	register(strCol(func(s *Service) *string { return &s.Application }), "Callback Application")
	register(intCol(func(s *Service) *int { return &s.PushThresholdMin }, 0), "Push Notification Threshold (minutes)", "Push Notification Threshold")
	register(intCol(func(s *Service) *int { return &s.Priority }, 0), "Priority")
	register(strCol(func(s *Service) *string { return &s.CapacityRules }), "Capacity Overrides", "Capacity Rules")
	register(func(s *Service, v string) error {
		c := strings.ToUpper(v)
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return fmt.Errorf("must be an ISO 3166 alpha-2 country code (got %q)", v)
		}
		s.DefaultCountry = c
		return nil
	}, "Default Country")
	register(boolCol(func(s *Service) *bool { return &s.NormalizeE164 }), "Normalize E164", "Normalize E.164", "Normalise E164")
	register(boolCol(func(s *Service) *bool { return &s.DisallowImpossible }), "Disallow Impossible Phone Numbers", "Disallow Impossible Numbers")
	register(boolCol(func(s *Service) *bool { return &s.DisallowPremium }), "Disallow Premium Phone Numbers", "Disallow Premium Numbers")
	register(intCol(func(s *Service) *int { return &s.Throttles[0].Limit }, 0), "Throttle Callbacks Per Service 1", "Throttle Limit 1")
	register(secondsCol(func(s *Service) *time.Duration { return &s.Throttles[0].Window }), "Throttle TTL 1 (seconds)", "Throttle Window 1 (seconds)")
	register(intCol(func(s *Service) *int { return &s.Throttles[1].Limit }, 0), "Throttle Callbacks Per Service 2", "Throttle Limit 2")
	register(secondsCol(func(s *Service) *time.Duration { return &s.Throttles[1].Window }), "Throttle TTL 2 (seconds)", "Throttle Window 2 (seconds)")
}

// zeroSecondsCol reads a number of seconds that may be 0.
func zeroSecondsCol(dst func(*Service) *time.Duration) func(*Service, string) error {
	return func(s *Service, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("must be a number of seconds, 0 or more (got %q)", v)
		}
		*dst(s) = time.Duration(n) * time.Second
		return nil
	}
}

func secondsCol(dst func(*Service) *time.Duration) func(*Service, string) error {
	return func(s *Service, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("must be a positive number of seconds (got %q)", v)
		}
		*dst(s) = time.Duration(n) * time.Second
		return nil
	}
}

// text renders a published cell as text. Designer cells are strings, but
// numbers and booleans are accepted too.
func text(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case json.Number:
		return x.String(), nil
	default:
		return "", fmt.Errorf("must be a text, number or boolean value")
	}
}

func newService(name string) *Service {
	return &Service{
		Name: name, CallDirection: UserTerminated, TimeZone: "UTC", Location: time.UTC,
		SlotMinutes: DefaultSlotMinutes, Capacity: DefaultCapacity,
		OfferImmediate: true, OfferScheduled: true, MaxPerNumber: DefaultMaxPerNumber,
		MaxQueued: DefaultMaxQueued, DailyPerNumber: DefaultDailyPerNumber, MaxQueueAhead: DefaultMaxQueueAhead,
		HorizonDays: DefaultHorizonDays, TTL: DefaultTTL, Columns: map[string]string{},
		DefaultCountry: "US", DisallowImpossible: true, DisallowPremium: true,
		Throttles: [2]Throttle{{DefaultThrottle1, 5 * time.Minute}, {DefaultThrottle2, time.Hour}},
	}
}

// Default rate windows: GMS' defaults.
const (
	DefaultThrottle1 = 500
	DefaultThrottle2 = 1000
)

// plan builds the calendar of s from its columns; heads maps a normalized
// column name to the header the row used, so errors name it.
func (s *Service) plan(heads map[string]string) (string, error) {
	if _, err := schedule.ParseHours(s.BusinessHours, ""); err != nil {
		return heads[normalize("Business Hours")], err
	}
	hours, err := schedule.ParseHours(s.BusinessHours, s.SpecialDays)
	if err != nil {
		return heads[normalize("Special Days")], err
	}
	overrides, err := schedule.ParseOverrides(s.CapacityRules)
	if err != nil {
		return heads[normalize("Capacity Overrides")], err
	}
	s.Plan = schedule.Plan{Hours: hours, Loc: s.Location, Minutes: s.SlotMinutes, Capacity: s.Capacity, Overrides: overrides}
	return "", nil
}

// Parse validates a published table as a whole. The first problem found is
// returned as a *ValidationError; nothing of a refused table is applied.
func Parse(name string, version int64, rows []Row) (*Table, error) {
	if name != TableName {
		return nil, &UnknownTableError{Name: name}
	}
	t := &Table{Name: name, Version: version, Rows: rows, services: make(map[string]*Service, len(rows))}
	for i, r := range rows {
		key := strings.TrimSpace(r.Key)
		if key == "" {
			return nil, &ValidationError{Row: i + 1, Msg: "the key (callback virtual queue name) is empty"}
		}
		if _, dup := t.services[key]; dup {
			return nil, &ValidationError{Row: i + 1, Key: key, Msg: "duplicate key"}
		}
		s := newService(key)
		known := map[string]string{}
		heads := make([]string, 0, len(r.Columns))
		for h := range r.Columns {
			heads = append(heads, h)
		}
		sort.Strings(heads) // deterministic first error
		for _, h := range heads {
			v, err := text(r.Columns[h])
			if err != nil {
				return nil, &ValidationError{Row: i + 1, Key: key, Column: h, Msg: err.Error()}
			}
			s.Columns[h] = v
			c, isKnown := columns[normalize(h)]
			if !isKnown || v == "" {
				continue
			}
			known[normalize(c.name)] = h
			if err := c.set(s, v); err != nil {
				return nil, &ValidationError{Row: i + 1, Key: key, Column: h, Msg: err.Error()}
			}
		}
		if col, err := s.plan(known); err != nil {
			return nil, &ValidationError{Row: i + 1, Key: key, Column: col, Msg: err.Error()}
		}
		t.services[key] = s
	}
	return t, nil
}
