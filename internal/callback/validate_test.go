package callback

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestNormalizePhone(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"+15550100", "+15550100"},
		{" 1 ", "1"},
		{"+1 (555) 010-0200", "+15550100200"},
		{"555.010.0200", "5550100200"},
		{"0049/89/123", "004989123"},
	} {
		got, err := NormalizePhone(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "   ", "abc", "<img src=x onerror=alert(1)>", "+", "()", "1+2", "++1", "1\x002",
		"12\xff", "５５５", "1;2", "1#", "tel:+1555", strings.Repeat("1", MaxPhoneDigits+1),
		strings.Repeat("1 ", MaxPhoneChars), "1\n2"} {
		if got, err := NormalizePhone(in); err == nil || KindOf(err) != KindInvalid {
			t.Errorf("NormalizePhone(%q) = %q, %v; want an Invalid error", in, got, err)
		}
	}
}

func TestValidateCreate(t *testing.T) {
	ok := CreateRequest{Service: "Callback_Sales", Phone: "+1 555 0100", Props: map[string]string{"_language": "fr"},
		UserData: json.RawMessage(`{"a":"b","n":[1,{"x":"y"}],"é":"\ufffd"}`)}
	if err := ValidateCreate(&ok); err != nil || ok.Phone != "+15550100" {
		t.Fatalf("valid request refused: %v (%q)", err, ok.Phone)
	}
	bad := map[string]func(r *CreateRequest){
		"empty service":       func(r *CreateRequest) { r.Service = " " },
		"NUL service":         func(r *CreateRequest) { r.Service = "a\x00" },
		"long service":        func(r *CreateRequest) { r.Service = strings.Repeat("s", MaxNameChars+1) },
		"bad UTF-8 service":   func(r *CreateRequest) { r.Service = "\xc3\x28" },
		"bad phone":           func(r *CreateRequest) { r.Phone = "abc" },
		"NUL prop":            func(r *CreateRequest) { r.Props = map[string]string{"_x": "a\x00"} },
		"bad UTF-8 prop key":  func(r *CreateRequest) { r.Props = map[string]string{"_\xff": "a"} },
		"long prop key":       func(r *CreateRequest) { r.Props = map[string]string{strings.Repeat("k", MaxNameChars+1): "a"} },
		"long prop value":     func(r *CreateRequest) { r.Props = map[string]string{"_x": strings.Repeat("v", MaxValueBytes+1)} },
		"NUL user data":       func(r *CreateRequest) { r.UserData = json.RawMessage(`{"a":"\u0000"}`) },
		"NUL user data key":   func(r *CreateRequest) { r.UserData = json.RawMessage(`{"\u0000":"a"}`) },
		"nested NUL":          func(r *CreateRequest) { r.UserData = json.RawMessage(`{"a":[{"b":"x\u0000"}]}`) },
		"lone surrogate":      func(r *CreateRequest) { r.UserData = json.RawMessage(`{"a":"\ud800"}`) },
		"lone low surrogate":  func(r *CreateRequest) { r.UserData = json.RawMessage(`{"a":"\udc00x"}`) },
		"bad UTF-8 user data": func(r *CreateRequest) { r.UserData = json.RawMessage("{\"a\":\"\xff\"}") },
		"long user data key": func(r *CreateRequest) {
			r.UserData = json.RawMessage(`{"` + strings.Repeat("k", MaxNameChars+1) + `":1}`)
		},
		"long user data value": func(r *CreateRequest) {
			r.UserData = json.RawMessage(`{"k":"` + strings.Repeat("v", MaxValueBytes+1) + `"}`)
		},
		"user data array":    func(r *CreateRequest) { r.UserData = json.RawMessage(`[1]`) },
		"user data trailing": func(r *CreateRequest) { r.UserData = json.RawMessage(`{"a":1} {}`) },
		"user data cut":      func(r *CreateRequest) { r.UserData = json.RawMessage(`{"a":1`) },
		"duplicate key":      func(r *CreateRequest) { r.UserData = json.RawMessage(`{"a":1,"b":2,"a":3}`) },
		"nested duplicate":   func(r *CreateRequest) { r.UserData = json.RawMessage(`{"a":[{"b":{"c":1,"c":2}}]}`) },
		"too many keys": func(r *CreateRequest) {
			var b strings.Builder
			b.WriteString("{")
			for i := range MaxUserDataKeys + 1 {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(`"k` + strconv.Itoa(i) + `":[1]`)
			}
			b.WriteString("}")
			r.UserData = json.RawMessage(b.String())
		},
	}
	for name, mod := range bad {
		r := CreateRequest{Service: "Callback_Sales", Phone: "+15550100"}
		mod(&r)
		if err := ValidateCreate(&r); KindOf(err) != KindInvalid {
			t.Errorf("%s: got %v, want an Invalid error", name, err)
		}
	}
	// The same key in sibling objects is no duplicate.
	r := CreateRequest{Service: "S", Phone: "1", UserData: json.RawMessage(`{"a":{"k":1},"b":[{"k":2},{"k":3}],"k":{"a":{"a":1}}}`)}
	if err := ValidateCreate(&r); err != nil {
		t.Fatalf("keys repeated across objects refused: %v", err)
	}
	// A pair of surrogates is one character, accepted.
	r = CreateRequest{Service: "S", Phone: "1", UserData: json.RawMessage(`{"a":"\ud83d\ude00","b":"\\ud800"}`)}
	if err := ValidateCreate(&r); err != nil {
		t.Fatalf("surrogate pair / escaped backslash refused: %v", err)
	}
}

func TestValidateReport(t *testing.T) {
	kv := map[string]string{KeyCustomerNumber: "+1 (555) 0100", "_x": "y"}
	if err := ValidateReport(kv); err != nil || kv[KeyCustomerNumber] != "+15550100" {
		t.Fatalf("got %v %q", err, kv[KeyCustomerNumber])
	}
	for _, kv := range []map[string]string{
		{KeyCustomerNumber: "abc"}, {"_x": "\x00"}, {"\xff": "1"}, {"_x": strings.Repeat("v", MaxValueBytes+1)},
		{KeyReason: "a\x00b"},
	} {
		if err := ValidateReport(kv); KindOf(err) != KindInvalid {
			t.Errorf("ValidateReport(%q) = %v, want Invalid", kv, err)
		}
	}
	if err := ValidateReason("x\x00"); KindOf(err) != KindInvalid {
		t.Errorf("reason with NUL: %v", err)
	}
	if err := ValidateQuery(Query{Service: "a\x00"}); KindOf(err) != KindInvalid {
		t.Errorf("query with NUL: %v", err)
	}
	if err := ValidateQuery(Query{Filters: []Filter{{Key: "_customer_number", Value: "\xff"}}}); KindOf(err) != KindInvalid {
		t.Errorf("filter with bad UTF-8: %v", err)
	}
}

// assertText fails unless s is text both stores can keep.
func assertText(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		t.Fatalf("%s accepted with NUL or invalid UTF-8: %q", what, s)
	}
}

// FuzzNormalizePhone: a number is either refused as Invalid or comes out
// as digits with an optional leading +, within the caps, and normalising
// it again changes nothing.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+15550100", "+1 (555) 010-0200", "555.010.0200", "abc", "<img src=x>", "1\x00", "\xff", "", "+", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizePhone(in)
		if err != nil {
			if KindOf(err) != KindInvalid {
				t.Fatalf("NormalizePhone(%q): %v is not an Invalid error", in, err)
			}
			return
		}
		digits := 0
		for i, r := range out {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case r == '+' && i == 0:
			default:
				t.Fatalf("NormalizePhone(%q) = %q holds %q", in, out, r)
			}
		}
		if digits == 0 || digits > MaxPhoneDigits || utf8.RuneCountInString(strings.TrimSpace(in)) > MaxPhoneChars {
			t.Fatalf("NormalizePhone(%q) = %q breaks the caps", in, out)
		}
		if again, err := NormalizePhone(out); err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

// FuzzValidateUserData: user data is either refused as Invalid or is a
// JSON object whose every key and string is text the stores keep, within
// the caps.
func FuzzValidateUserData(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"a":[1,{"b":null}],"c":{"d":true}}`, `{"a":"\u0000"}`, `{"a":"\ud800"}`,
		`{"a":"\ud83d\ude00"}`, `[1]`, `{"a":1`, `{"a":1}x`, `"str"`, `null`, ``, "{\"\xff\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := ValidateUserData(raw)
		if err != nil {
			if KindOf(err) != KindInvalid {
				t.Fatalf("%q: %v is not an Invalid error", raw, err)
			}
			return
		}
		trim := strings.TrimSpace(string(raw))
		if trim == "" || trim == "null" {
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatalf("accepted %q, which is not a JSON object: %v", raw, err)
		}
		if _, lone := LoneSurrogate(raw); lone {
			t.Fatalf("accepted a lone surrogate: %q", raw)
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				assertText(t, "value", v)
				if len(v) > MaxValueBytes {
					t.Fatalf("value of %d bytes accepted", len(v))
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			case map[string]any:
				for k, e := range v {
					assertText(t, "key", k)
					if utf8.RuneCountInString(k) > MaxNameChars {
						t.Fatalf("key of %d characters accepted", utf8.RuneCountInString(k))
					}
					walk(e)
				}
			}
		}
		walk(obj)
	})
}

// FuzzValidateCreate: a booking is refused as Invalid, or every text of it
// is text both stores keep and its phone number is normalised.
func FuzzValidateCreate(f *testing.F) {
	f.Add("Callback_Sales", "+1 555 0100", "_language", "fr", []byte(`{"a":"b"}`))
	f.Add("S\x00", "abc", "_x", "\xff", []byte(`{"a":"\u0000"}`))
	f.Add("S", "<img src=x>", "", "", []byte(`[]`))
	f.Fuzz(func(t *testing.T, service, phone, key, value string, ud []byte) {
		r := CreateRequest{Service: service, Phone: phone, Props: map[string]string{key: value}, UserData: ud}
		err := ValidateCreate(&r)
		if err != nil {
			if KindOf(err) != KindInvalid {
				t.Fatalf("%v is not an Invalid error", err)
			}
			return
		}
		for _, s := range []string{r.Service, r.Phone, key, value} {
			assertText(t, "field", s)
		}
		if p, err := NormalizePhone(r.Phone); err != nil || p != r.Phone {
			t.Fatalf("phone %q is not normalised: %q %v", r.Phone, p, err)
		}
		if ValidateUserData(r.UserData) != nil {
			t.Fatal("user data accepted once, refused again")
		}
	})
}

// FuzzParseTime: the GMS time parser never panics, and what it accepts
// is UTC and reads back the same from its wire form (to the millisecond).
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2030-01-02T15:04:05.000Z", "2030-01-02T15:04:05+02:00", "2030-01-02T15:04", "2030-01-02T15:04:05.123456789",
		"2018-06-10T25:05:00.000Z", "", "now", "2030-02-30T00:00:00Z", "0000-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := ParseTime(s)
		if !ok {
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) is not UTC: %v", s, tm)
		}
		if tm.Year() < 0 || tm.Year() > 9999 {
			return // outside what the wire form can carry
		}
		back, ok := ParseTime(FormatTime(tm))
		if !ok || !back.Equal(tm.Truncate(time.Millisecond)) {
			t.Fatalf("ParseTime(%q) = %v does not read back from %q: %v %v", s, tm, FormatTime(tm), back, ok)
		}
	})
}
