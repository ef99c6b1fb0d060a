package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// httpClient never reuses connections: tests kill and restart nodes, and a
// POST sent on a pooled connection to a dead process fails instead of being
// retried. Loopback connects are cheap.
var httpClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// Response is a raw HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object; an empty body gives nil.
func (r *Response) JSON() (map[string]any, error) {
	if len(bytes.TrimSpace(r.Body)) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		return nil, fmt.Errorf("status %d, body is not a JSON object: %v: %q", r.Status, err, r.Body)
	}
	return m, nil
}

// External calls the external API (/engagement/v3/...) with the x-api-key
// header (omitted when apiKey is empty) and returns the status and the
// decoded JSON object. body may be nil, a string or []byte sent verbatim,
// url.Values sent as a form, or any value to marshal as JSON. Any transport
// error, or a body that is not a JSON object, fails the test.
func (n *Node) External(t testing.TB, method, path, apiKey string, body any) (int, map[string]any) {
	t.Helper()
	r, err := n.ExternalDo(method, path, apiKey, body)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	m, err := r.JSON()
	if err != nil {
		t.Fatalf("testenv: %s %s: %v", method, path, err)
	}
	return r.Status, m
}

// Internal calls the internal API with the ContactCenterId header (omitted
// when ccid is empty) and returns the status and the raw body. The admin
// APIs under /ges/v1 get the AdminToken as well, as a provisioning client
// sends it. body is encoded as for External.
func (n *Node) Internal(t testing.TB, method, path, ccid string, body any) (int, []byte) {
	t.Helper()
	r, err := n.InternalDo(method, path, ccid, body)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return r.Status, r.Body
}

// ExternalDo is External without a testing.TB, safe to call from any goroutine.
func (n *Node) ExternalDo(method, path, apiKey string, body any) (*Response, error) {
	h := http.Header{}
	if apiKey != "" {
		h.Set("x-api-key", apiKey)
	}
	return Do(method, n.ExternalURL+path, h, body)
}

// InternalDo is Internal without a testing.TB, safe to call from any goroutine.
func (n *Node) InternalDo(method, path, ccid string, body any) (*Response, error) {
	h := http.Header{}
	if ccid != "" {
		h.Set("ContactCenterId", ccid)
	}
	if strings.HasPrefix(path, "/ges/v1/") {
		h.Set("Authorization", "Bearer "+AdminToken)
	}
	return Do(method, n.InternalURL+path, h, body)
}

// Do sends one request; body is encoded as for Node.External.
func Do(method, rawURL string, header http.Header, body any) (*Response, error) {
	rd, ctype, err := encodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, rawURL, err)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if ctype != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", ctype)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading body: %w", method, rawURL, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

func encodeBody(body any) (io.Reader, string, error) {
	const jsonType = "application/json"
	switch b := body.(type) {
	case nil:
		return nil, "", nil
	case string:
		return strings.NewReader(b), jsonType, nil
	case []byte:
		return bytes.NewReader(b), jsonType, nil
	case json.RawMessage:
		return bytes.NewReader(b), jsonType, nil
	case url.Values:
		return strings.NewReader(b.Encode()), "application/x-www-form-urlencoded", nil
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, "", err
		}
		return bytes.NewReader(j), jsonType, nil
	}
}
