package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/settings"
)

// Body size limits of the product: larger requests are refused with 413 and
// counted as INVALID_CONTENT_LENGTH.
const (
	ExternalBodyLimit = 500 * 1000
	InternalBodyLimit = 10 * 1000 * 1000
)

var errTooLarge = errors.New("request body too large")

// readBody reads at most limit bytes of the body.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// errMediaType is the answer to a body of a content type the endpoint does
// not take (415 in each API's envelope).
type errMediaType struct{ got, want string }

func (e *errMediaType) Error() string {
	got := e.got
	if got == "" {
		got = "none"
	}
	return "Unsupported Content-Type " + truncate(strconv.QuoteToASCII(got), 64) + ": expected " + e.want
}

// requireJSON refuses a body that is not declared application/json (the
// external API's only type). An empty body needs no type.
func requireJSON(r *http.Request, b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return &errMediaType{got: r.Header.Get("Content-Type"), want: "application/json"}
	}
	return nil
}

// gmsMediaType is the type of a GMS body: JSON (also when undeclared, as
// GMS clients often send none), a URL-encoded or a multipart form.
// Anything else is refused.
func gmsMediaType(r *http.Request, b []byte) (ct string, params map[string]string, err error) {
	h := r.Header.Get("Content-Type")
	if strings.TrimSpace(h) == "" {
		return "application/json", nil, nil
	}
	ct, params, err = mime.ParseMediaType(h)
	switch {
	case err != nil:
	case ct == "application/json", ct == "application/x-www-form-urlencoded", ct == "multipart/form-data":
		return ct, params, nil
	case len(bytes.TrimSpace(b)) == 0:
		return "application/json", nil, nil
	}
	return "", nil, &errMediaType{got: h, want: "application/json, application/x-www-form-urlencoded or multipart/form-data"}
}

// checkRawJSON refuses what a JSON decoder would silently turn into
// U+FFFD: bytes that are not UTF-8 and \\u escapes of lone surrogates.
func checkRawJSON(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("the body is not valid UTF-8")
	}
	if esc, found := callback.LoneSurrogate(b); found {
		return errors.New("a string holds a lone UTF-16 surrogate escape (" + esc + ")")
	}
	return nil
}

// checkDuplicateKeys walks the tokens of a JSON value and refuses an
// object that names a key twice, at any depth: decoders disagree on
// which one wins, so a client must not rely on either.
func checkDuplicateKeys(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	type level struct {
		object    bool
		keys      map[string]bool
		expectKey bool
	}
	var stack []*level
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return errors.New("duplicate key " + truncate(strconv.QuoteToASCII(k), 64))
				}
				top.keys[k] = true
				top.expectKey = false
				continue
			}
		}
		if delim, ok := tok.(json.Delim); ok {
			switch delim {
			case '{':
				stack = append(stack, &level{object: true, keys: map[string]bool{}, expectKey: true})
				continue
			case '[':
				stack = append(stack, &level{})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expectKey = true
		}
		if len(stack) == 0 {
			// One value read; what follows is decodeObject's concern.
			return nil
		}
	}
}

// decodeObject parses a JSON object, keeping each member's raw value so
// that every field can be checked with its own message. An empty body is
// an empty object. Invalid UTF-8, lone surrogate escapes and duplicate
// keys (at any depth) are refused.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	if err := checkRawJSON(b); err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	// More is false before a stray closing bracket: only the end of
	// the input may follow the object.
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	if err := checkDuplicateKeys(b); err != nil {
		return nil, err
	}
	return m, nil
}

// flatBody reads a GMS-style body: a flat JSON object or form fields.
// Non-text JSON values are turned into text (nested ones as JSON). Form
// fields are checked as text (the JSON checks are in decodeObject); a
// content type GMS does not take is an *errMediaType.
func flatBody(r *http.Request, b []byte) (map[string]string, error) {
	ct, params, err := gmsMediaType(r, b)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var vals url.Values
	switch ct {
	case "application/x-www-form-urlencoded":
		if vals, err = url.ParseQuery(string(b)); err != nil {
			return nil, err
		}
	case "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(b), params["boundary"])
		form, err := mr.ReadForm(int64(len(b)) + 1)
		if err != nil {
			return nil, err
		}
		defer func() { _ = form.RemoveAll() }()
		vals = form.Value
	default:
		m, err := decodeObject(b)
		if err != nil {
			return nil, err
		}
		for k, raw := range m {
			out[k] = rawText(raw)
		}
		return out, nil
	}
	for k, v := range vals {
		val := v[len(v)-1]
		if !utf8.ValidString(k) || !utf8.ValidString(val) {
			return nil, errors.New("a form field is not valid UTF-8 text")
		}
		out[k] = val
	}
	return out, nil
}

// rawText renders a JSON value as GMS text.
func rawText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	t := strings.TrimSpace(string(raw))
	if t == "null" {
		return ""
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "eE") {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return t
}

// checkRowsText refuses published rows with text neither store keeps (see
// callback.CheckText) in a key, a column name or a value at any depth.
func checkRowsText(rows []settings.Row) error {
	for i, row := range rows {
		if err := callback.CheckText("key of row "+strconv.Itoa(i+1), row.Key); err != nil {
			return err
		}
		for h, v := range row.Columns {
			if err := callback.CheckText("column name of row "+strconv.Itoa(i+1), h); err != nil {
				return err
			}
			if err := checkAnyText("column "+strconv.QuoteToASCII(truncate(h, 64))+" of row "+strconv.Itoa(i+1), v); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkAnyText(field string, v any) error {
	switch v := v.(type) {
	case string:
		return callback.CheckText(field, v)
	case []any:
		for _, e := range v {
			if err := checkAnyText(field, e); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range v {
			if err := callback.CheckText(field, k); err != nil {
				return err
			}
			if err := checkAnyText(field, e); err != nil {
				return err
			}
		}
	}
	return nil
}
