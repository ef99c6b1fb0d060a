package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

// decodeObject parses a JSON object, keeping each member's raw value so
// that every field can be checked with its own message. An empty body is
// an empty object.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	return m, nil
}

// flatBody reads a GMS-style body: a flat JSON object or form fields.
// Non-text JSON values are turned into text (nested ones as JSON).
func flatBody(r *http.Request, b []byte) (map[string]string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	if ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data" {
		vals, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, err
		}
		for k, v := range vals {
			out[k] = v[len(v)-1]
		}
		return out, nil
	}
	m, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	for k, raw := range m {
		out[k] = rawText(raw)
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
