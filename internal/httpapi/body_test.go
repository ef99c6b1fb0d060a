package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gesgo/ges/internal/callback"
)

func TestDecodeObjectRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"duplicate top-level key":   `{"a":1,"a":2}`,
		"duplicate in userData":     `{"userData":{"k":"x","k":"y"}}`,
		"duplicate deeper":          `{"userData":{"k":[{"z":1,"z":1}]}}`,
		"lone high surrogate":       `{"phoneNumber":"\ud800"}`,
		"lone low surrogate":        `{"phoneNumber":"\udfff"}`,
		"high then non-low":         `{"a":"\ud800\u0041"}`,
		"invalid UTF-8":             "{\"a\":\"\xff\"}",
		"overlong UTF-8":            "{\"a\":\"\xc0\xaf\"}",
		"encoded surrogate (UTF-8)": "{\"a\":\"\xed\xa0\x80\"}",
		"trailing data":             `{"a":1} {"b":2}`,
		"not an object":             `[1]`,
		"truncated":                 `{"a":`,
	} {
		if m, err := decodeObject([]byte(body)); err == nil {
			t.Errorf("%s: %q accepted as %v", name, body, m)
		}
	}
	for _, body := range []string{`{}`, ``, `  `, `{"a":"\ud83d\ude00"}`, `{"a":"\\ud800"}`, `{"a":{"k":1},"b":{"k":2}}`, `{"a":[{"k":1},{"k":2}]}`} {
		if _, err := decodeObject([]byte(body)); err != nil {
			t.Errorf("%q refused: %v", body, err)
		}
	}
}

func TestContentTypes(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON": true,
		"": false, "text/plain": false, "application/x-www-form-urlencoded": false, "application/jsonx": false, "json": false,
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		err := requireJSON(r, []byte(`{}`))
		var mt *errMediaType
		if (err == nil) != want || (err != nil && !errors.As(err, &mt)) {
			t.Errorf("external %q: %v", ct, err)
		}
		if err := requireJSON(r, nil); err != nil {
			t.Errorf("external %q, empty body: %v", ct, err)
		}
	}
	for ct, want := range map[string]bool{
		"application/json": true, "": true, "application/x-www-form-urlencoded": true, "multipart/form-data; boundary=x": true,
		"text/plain": false, "application/xml": false, "text/plain; charset=utf-8": false,
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		_, _, err := gmsMediaType(r, []byte(`{}`))
		if (err == nil) != want {
			t.Errorf("GMS %q: %v", ct, err)
		}
	}
}

func TestFlatBodyForms(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	kv, err := flatBody(r, []byte("_customer_number=%2B1555&a=1&a=2"))
	if err != nil || kv["_customer_number"] != "+1555" || kv["a"] != "2" {
		t.Fatalf("form: %v %v", kv, err)
	}
	if _, err := flatBody(r, []byte("a=%FF")); err == nil {
		t.Fatal("form with invalid UTF-8 accepted")
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("_customer_number", "+1556")
	_ = mw.Close()
	r.Header.Set("Content-Type", mw.FormDataContentType())
	if kv, err := flatBody(r, b.Bytes()); err != nil || kv["_customer_number"] != "+1556" {
		t.Fatalf("multipart: %v %v", kv, err)
	}
	r.Header.Set("Content-Type", "text/plain")
	var mt *errMediaType
	if _, err := flatBody(r, []byte(`{"a":1}`)); !errors.As(err, &mt) {
		t.Fatalf("text/plain: %v", err)
	}
}

func TestCheckRowsText(t *testing.T) {
	if err := checkRowsText(nil); err != nil {
		t.Fatal(err)
	}
	for _, rows := range []string{`[{"key":"a\u0000","columns":{}}]`, `[{"key":"a","columns":{"x\u0000":"1"}}]`,
		`[{"key":"a","columns":{"x":"1\u0000"}}]`, `[{"key":"a","columns":{"x":["\u0000"]}}]`} {
		var body publishBody
		if err := json.Unmarshal([]byte(`{"rows":`+rows+`}`), &body); err != nil {
			t.Fatal(err)
		}
		if err := checkRowsText(body.Rows); callback.KindOf(err) != callback.KindInvalid {
			t.Errorf("%s: %v", rows, err)
		}
	}
}

var bodySeeds = []string{
	`{"serviceName":"Callback_Sales","phoneNumber":"+15550200"}`,
	`{"serviceName":"Callback_Sales","phoneNumber":"+15550200","desiredTime":"2030-01-02T15:30:00.000Z","userData":{"a":"b","n":1}}`,
	`{"serviceName":"S","phoneNumber":"1","userData":"{\"legacy\":true}","pushTargets":[{"channel":"FCM","target":"t"}]}`,
	`{"serviceName":"S","phoneNumber":"1","cbOfferType":"` + "ASAP if the request does not include the desiredTime parameter" + `","priority":5,"offerThreshold":1.5}`,
	`{"a":1,"a":2}`, `{"a":"\ud800"}`, `{"a":"\u0000"}`, "{\"a\":\"\xff\"}", `[1]`, `{"a":`, ``, `null`,
}

// FuzzDecodeObject: no body crashes the decoder; what it accepts is valid
// UTF-8 without lone surrogates or duplicate keys, and its members
// round-trip through encoding.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeObject(b)
		if err != nil {
			return
		}
		if len(bytes.TrimSpace(b)) == 0 {
			if len(m) != 0 {
				t.Fatalf("empty body gave %v", m)
			}
			return
		}
		if !utf8.Valid(b) {
			t.Fatalf("accepted invalid UTF-8 %q", b)
		}
		if _, lone := callback.LoneSurrogate(b); lone {
			t.Fatalf("accepted a lone surrogate %q", b)
		}
		var ref map[string]json.RawMessage
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", b, err)
		}
		if len(ref) != len(m) {
			t.Fatalf("members differ: %v %v", m, ref)
		}
		enc, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("accepted members do not encode: %v", err)
		}
		again, err := decodeObject(enc)
		if err != nil {
			t.Fatalf("re-encoded body %q refused: %v", enc, err)
		}
		var x, y any
		_ = json.Unmarshal(enc, &x)
		encAgain, _ := json.Marshal(again)
		_ = json.Unmarshal(encAgain, &y)
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("round trip changed %s into %s", enc, encAgain)
		}
	})
}

// FuzzFlatBody: GMS bodies of any of the accepted types give text keys and
// values (valid UTF-8), or an error; other types are *errMediaType.
func FuzzFlatBody(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte("_customer_number=%2B1555&_desired_time=2030-01-02T15%3A04%3A05Z&k=v"), "application/x-www-form-urlencoded")
	f.Add([]byte("a=%FF&b=%00"), "application/x-www-form-urlencoded")
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n"), "multipart/form-data; boundary=x")
	f.Add([]byte(`{"a":1}`), "text/plain")
	f.Add([]byte(`{"a":1}`), "")
	f.Fuzz(func(t *testing.T, b []byte, ct string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", ct)
		kv, err := flatBody(r, b)
		if err != nil {
			return
		}
		for k, v := range kv {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("flatBody(%q, %q) gave invalid UTF-8 %q=%q", b, ct, k, v)
			}
		}
	})
}

// FuzzParseCreate: any body goes through the external create's parsing
// and the domain checks without a panic; a refusal is a plain error or an
// Invalid domain error, and what passes both is storable text.
func FuzzParseCreate(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeObject(b)
		if err != nil {
			return
		}
		req, err := parseCreate(m, now)
		if err != nil {
			return
		}
		if err := callback.ValidateCreate(&req); err != nil {
			if callback.KindOf(err) != callback.KindInvalid {
				t.Fatalf("%v is not an Invalid error", err)
			}
			return
		}
		for k, v := range req.Props {
			if !utf8.ValidString(k+v) || strings.IndexByte(k+v, 0) >= 0 {
				t.Fatalf("prop %q=%q accepted", k, v)
			}
		}
		if len(req.UserData) > 0 && !json.Valid(req.UserData) {
			t.Fatalf("user data %q is not JSON", req.UserData)
		}
	})
}

// FuzzParseWireTime: the external desiredTime parser never panics; what
// it accepts is UTC and reads back the same from RFC 3339.
func FuzzParseWireTime(f *testing.F) {
	for _, s := range []string{"2030-01-02T15:30:00.000Z", "2030-01-02T15:30:00.5-05:00", "2030-01-02T15:30:00+0530", "2030-01-02T15:04",
		"2030-01-02T15:04:05.123456789", "2018-06-10T25:05:00.000Z", "", "x", "2030-01-02T15:04Z"} {
		f.Add(s)
	}
	loc := time.FixedZone("X", 3*3600)
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := parseWireTime(s, loc)
		if !ok {
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("parseWireTime(%q) = %v is not UTC", s, tm)
		}
		if tm.Year() < 0 || tm.Year() > 9999 {
			return
		}
		back, ok := parseWireTime(tm.Format(time.RFC3339Nano), loc)
		if !ok || !back.Equal(tm) {
			t.Fatalf("parseWireTime(%q) = %v does not read back: %v %v", s, tm, back, ok)
		}
	})
}
