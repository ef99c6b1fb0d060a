package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/gesgo/ges/internal/callback"
)

// The sentence both generated clients send as cbOfferType unless told
// otherwise; like any unknown value it means "derive it".
var offerTypes = map[string]bool{"ASAP": true, "SCHEDULED": true, "COMBINED_SCHEDULED_AND_ASAP": true}

// textFields are the optional text fields of a create and the record key
// each is kept under (the GMS key ORS reads).
var textFields = []struct{ json, key string }{
	{"language", "_language"},
	{"inboundVQ", "_inbound_vq"},
	{"channel", "_channel"},
	{"offerTiming", "_offer_timing"},
	{"cbOriginationIxnId", "_originating_interaction_id"},
	{"surveyRP", "_survey_route_point"},
	{"routePoint", "_route_point"},
	{"captchaToken", ""},
}

// parseCreate checks a create body field by field, leniently where the
// published clients need it (unknown fields, the cbOfferType sentence,
// legacy userData strings) and strictly where a wrong value would mislead.
func parseCreate(m map[string]json.RawMessage, now time.Time) (callback.CreateRequest, error) {
	req := callback.CreateRequest{Props: map[string]string{}, Source: "api"}
	var err error
	if req.Service, err = requiredText(m, "serviceName"); err != nil {
		return req, err
	}
	if req.Phone, err = requiredText(m, "phoneNumber"); err != nil {
		return req, err
	}
	desired, err := optionalText(m, "desiredTime")
	if err != nil {
		return req, err
	}
	if desired != "" {
		t, ok := parseWireTime(desired, time.UTC)
		if !ok {
			return req, fmt.Errorf("Invalid desiredTime: %q (expected an ISO 8601 date-time such as 2030-01-02T15:30:00.000Z)", desired)
		}
		req.Desired = t
	}
	offer, err := optionalText(m, "cbOfferType")
	if err != nil {
		return req, err
	}
	if !offerTypes[strings.ToUpper(offer)] {
		offer = "ASAP"
		if desired != "" {
			offer = "SCHEDULED"
		}
	}
	req.Props["_cb_offer_type"] = strings.ToUpper(offer)
	for _, f := range textFields {
		v, err := optionalText(m, f.json)
		if err != nil {
			return req, err
		}
		if v != "" && f.key != "" {
			req.Props[f.key] = v
		}
	}
	// Public bookings follow the tenant's CAPTCHA rule; the token is
	// checked by the domain, never stored.
	req.Captcha = true
	req.CaptchaToken, _ = optionalText(m, "captchaToken")
	for _, f := range []struct{ json, key string }{{"offerThreshold", "_offer_threshold"}, {"priority", "_urs_vq_priority"}} {
		if v, err := optionalNumber(m, f.json); err != nil {
			return req, err
		} else if v != "" {
			req.Props[f.key] = v
		}
	}
	if raw, ok := m["alwaysCheckCapacity"]; ok && string(raw) != "null" {
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return req, fmt.Errorf("Invalid alwaysCheckCapacity: %s (expected true or false)", truncate(string(raw), 32))
		}
		req.AlwaysCheckCapacity = b
	}
	if req.UserData, err = parseUserData(m["userData"]); err != nil {
		return req, err
	}
	targets, err := parsePushTargets(m)
	if err != nil {
		return req, err
	}
	if targets != "" {
		req.Props["_push_targets"] = targets
	}
	return req, nil
}

func requiredText(m map[string]json.RawMessage, name string) (string, error) {
	v, err := optionalText(m, name)
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", fmt.Errorf("%s is required", name)
	}
	return v, nil
}

func optionalText(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("Invalid %s: expected a string", name)
	}
	return strings.TrimSpace(s), nil
}

func optionalNumber(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", fmt.Errorf("Invalid %s: expected a number", name)
	}
	return n.String(), nil
}

// parseUserData accepts an object, or the JSON string older clients sent.
// Keys that are not JavaScript identifiers are dropped, as GES does.
func parseUserData(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
		var probe map[string]json.RawMessage
		if json.Unmarshal(raw, &probe) != nil {
			return nil, nil // an unparsable legacy string is dropped, not refused
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("Invalid userData: expected a JSON object")
	}
	for k := range obj {
		if !jsIdentifier(k) {
			delete(obj, k)
		}
	}
	if len(obj) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(obj)
	return b, err
}

func jsIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || unicode.IsLetter(r):
		case i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r)):
		default:
			return false
		}
	}
	return true
}

type pushTarget struct {
	Channel string `json:"channel"`
	Target  string `json:"target"`
}

// parsePushTargets reads pushTargets, or the legacy pushChannel/pushTarget
// pair, into the stored JSON list.
func parsePushTargets(m map[string]json.RawMessage) (string, error) {
	var list []pushTarget
	if raw, ok := m["pushTargets"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &list); err != nil {
			return "", fmt.Errorf("Invalid pushTargets: expected an array of {channel, target}")
		}
	}
	ch, err := optionalText(m, "pushChannel")
	if err != nil {
		return "", err
	}
	tg, err := optionalText(m, "pushTarget")
	if err != nil {
		return "", err
	}
	if ch != "" || tg != "" {
		list = append(list, pushTarget{Channel: ch, Target: tg})
	}
	for i, t := range list {
		if !strings.EqualFold(t.Channel, "FCM") {
			return "", fmt.Errorf("Invalid pushTargets[%d].channel: %q (only FCM is supported)", i, t.Channel)
		}
		if strings.TrimSpace(t.Target) == "" {
			return "", fmt.Errorf("pushTargets[%d].target is required", i)
		}
		// The target is sent to FCM as it is: no NUL, nothing but UTF-8.
		if err := callback.CheckText(fmt.Sprintf("pushTargets[%d].target", i), t.Target); err != nil {
			return "", err
		}
		list[i].Channel = "FCM"
	}
	if len(list) == 0 {
		return "", nil
	}
	b, _ := json.Marshal(list)
	return string(b), nil
}

// parseWireTime accepts RFC 3339 with 0-9 fraction digits and any offset
// (also ±hhmm), or a local time without offset, read in loc.
func parseWireTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	for _, l := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
