package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gesgo/ges/internal/testenv"
)

func init() {
	// OpenAPI leaves "uuid" to the tools; ids and corrIds are UUIDs.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(uuidRE.String()))
}

// contract is one port's OpenAPI document, as the binary serves it, with
// a router that finds a request's operation.
type contract struct {
	name   string
	doc    *openapi3.T
	router routers.Router
	base   string
}

// loadContract loads the document a node serves at
// /ges/v1/openapi/{name}, with base (the port's URL plus prefix) as its
// only server.
func loadContract(t *testing.T, n *testenv.Node, name, base string) *contract {
	t.Helper()
	r, err := testenv.Do("GET", n.InternalURL+"/ges/v1/openapi/"+name, nil, nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("served %s: %v %v", name, err, r)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &contract{name: name, doc: doc, router: router, base: base}
}

// exchange is one request of the check. invalid: the request is meant to
// break the contract (a missing field, no key), so the document must
// refuse it as the server does; its answer is still checked.
type exchange struct {
	method, path string
	header       http.Header
	body         any
	invalid      bool
}

var validation = &openapi3filter.Options{
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	IncludeResponseStatus: true, // an answer with an undocumented status fails
	MultiError:            true,
}

// check sends e, validates the request and the answer against c, and
// returns the status and body of the answer.
func (c *contract) check(t *testing.T, e exchange) (int, []byte) {
	t.Helper()
	var raw []byte
	if e.body != nil {
		var err error
		if raw, err = json.Marshal(e.body); err != nil {
			t.Fatal(err)
		}
	}
	newReq := func() *http.Request {
		req, err := http.NewRequest(e.method, c.base+e.path, bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range e.header {
			req.Header[k] = v
		}
		if raw != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req
	}
	at := fmt.Sprintf("%s %s %s", c.name, e.method, e.path)
	req := newReq()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: no documented operation: %v", at, err)
		return 0, nil
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: validation}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case reqErr != nil && !e.invalid:
		t.Errorf("%s: the request breaks the document: %v", at, reqErr)
	case reqErr == nil && e.invalid:
		t.Errorf("%s: the document accepts a request meant to be invalid", at)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(newReq())
	if err != nil {
		t.Fatalf("%s: %v", at, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: validation}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s: the answer %d breaks the document: %v\n%s", at, resp.StatusCode, err, body)
	}
	return resp.StatusCode, body
}

// checkAll runs the exchanges and fails when fewer than min distinct
// (operation, status) pairs were checked.
func (c *contract) checkAll(t *testing.T, min int, cases []exchange) {
	t.Helper()
	checked := map[string]bool{}
	for _, e := range cases {
		code, _ := c.check(t, e)
		req, _ := http.NewRequest(e.method, c.base+e.path, nil)
		if route, _, err := c.router.FindRoute(req); err == nil {
			checked[fmt.Sprintf("%s %d", route.Operation.OperationID, code)] = true
		}
	}
	list := make([]string, 0, len(checked))
	for k := range checked {
		list = append(list, k)
	}
	sort.Strings(list)
	t.Logf("%s: checked %d answers: %s", c.name, len(list), strings.Join(list, "; "))
	if len(checked) < min {
		t.Errorf("%s: only %d distinct answers checked, want %d", c.name, len(checked), min)
	}
}

// Requests and responses of both ports, for the main operations and their
// errors, match the OpenAPI documents the binary serves (kin-openapi's
// openapi3filter).
func TestResponsesMatchOpenAPI(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 60000
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	ext := loadContract(t, n, "external.yaml", n.ExternalURL+"/engagement/v3")
	in := loadContract(t, n, "internal.yaml", n.InternalURL)

	queued := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558000"})
	eventually(t, 5*time.Second, "QUEUED", func() bool { return state(t, n, queued) == "QUEUED" })
	later := wireTime(time.Now().Add(time.Hour))
	sched := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558001", "desiredTime": later})
	cancelled := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558002", "desiredTime": later})
	n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]string{"id": cancelled})
	unknown := "00000000-0000-4000-8000-000000000000"

	t.Run("external", func(t *testing.T) {
		key := http.Header{"X-Api-Key": {demoKey}}
		q := url.Values{"numberOfDays": {"1"}, "reportBusy": {"true"}, "timezone": {"Europe/Paris"}}.Encode()
		ext.checkAll(t, 16, []exchange{
			{"POST", "/callbacks/create", key, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558003"}, false},
			{"POST", "/callbacks/create", key, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558004", "desiredTime": later, "userData": map[string]any{"order": "A-1"}}, false},
			{"POST", "/callbacks/create", key, map[string]any{"serviceName": "Nope", "phoneNumber": "1"}, false},
			{"POST", "/callbacks/create", key, map[string]any{"serviceName": "Callback_Sales"}, true},
			{"POST", "/callbacks/create", nil, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558005"}, false},
			{"POST", "/callbacks/create", http.Header{"X-Api-Key": {"no-such-key"}}, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558005"}, false},
			{"POST", "/callbacks/retrieve", key, map[string]string{"id": queued}, false},
			{"POST", "/callbacks/retrieve", key, map[string]string{"id": sched}, false},
			{"POST", "/callbacks/retrieve", key, map[string]string{"id": cancelled}, false},
			{"POST", "/callbacks/retrieve", key, map[string]string{"id": unknown}, false},
			{"POST", "/callbacks/retrieve", key, map[string]string{"id": "not-a-uuid"}, true},
			{"POST", "/callbacks/retrieve", nil, map[string]string{"id": queued}, false},
			{"POST", "/callbacks/cancel", key, map[string]string{"id": sched}, false},
			{"POST", "/callbacks/cancel", key, map[string]string{"id": sched}, false},
			{"POST", "/callbacks/cancel", key, map[string]string{"id": unknown}, false},
			{"GET", "/callbacks/availability/Callback_Sales?" + q, key, nil, false},
			{"GET", "/callbacks/availability/Callback_Sales?start=x", key, nil, true},
			{"GET", "/callbacks/availability/Callback_Sales", nil, nil, false},
			{"GET", "/callbacks/open-for/Callback_Sales", key, nil, false},
			{"GET", "/callbacks/queue-status/Callback_Sales", key, nil, false},
			{"GET", "/estimated-wait-time?virtual-queues=Callback_Sales,Nope", key, nil, false},
		})
	})

	t.Run("internal", func(t *testing.T) {
		cc := http.Header{"Contactcenterid": {demoCCID(s)}}
		admin := http.Header{"Contactcenterid": {demoCCID(s)}, "Authorization": {"Bearer " + testenv.AdminToken}}
		_, b := in.check(t, exchange{"POST", "/genesys/1/service/callback/Callback_Sales", cc, map[string]string{"_customer_number": "+15558100", "_desired_time": later, "order": "A-2"}, false})
		var made map[string]string
		decode(t, b, &made)
		gms := made["_id"]
		_, b = in.check(t, exchange{"POST", "/genesys/1/service/callback/Callback_Sales", cc, map[string]string{"_customer_number": "+15558101", "_desired_time": later}, false})
		decode(t, b, &made)
		other := made["_id"]
		start := url.QueryEscape(wireTime(time.Now()))
		in.checkAll(t, 22, []exchange{
			{"POST", "/genesys/1/service/callback/Callback_Sales", cc, map[string]string{"_customer_number": "+15558102"}, false},
			{"POST", "/genesys/1/service/callback/Callback_Sales", cc, map[string]string{"order": "A-3"}, false},
			{"POST", "/genesys/1/service/callback/Callback_Sales", nil, map[string]string{"_customer_number": "+15558103"}, true},
			{"GET", "/genesys/1/service/callback/Callback_Sales/" + gms, cc, nil, false},
			{"GET", "/genesys/1/service/callback/Callback_Sales/" + unknown, cc, nil, false},
			{"GET", "/genesys/1/service/callback/Callback_Sales?_callback_state=SCHEDULED", cc, nil, false},
			{"GET", "/genesys/1/service/callback?_id=" + gms, cc, nil, false},
			{"GET", "/genesys/1/service/callback/Callback_Sales/availability?start=" + start + "&number-of-days=1", cc, nil, false},
			{"PUT", "/genesys/1/service/callback/Callback_Sales/" + gms, cc, map[string]string{"order": "A-4"}, false},
			{"POST", "/genesys/1/service/callback/Callback_Sales/" + gms, cc, map[string]string{"order": "A-5"}, false},
			{"DELETE", "/genesys/1/service/callback/Callback_Sales/" + gms, cc, nil, false},
			{"DELETE", "/genesys/1/service/callback/Callback_Sales/" + unknown, cc, nil, false},
			{"GET", "/genesys/1/service/" + queued + "/check-queue-position", cc, nil, false},
			{"GET", "/genesys/1/service/" + other + "/check-queue-position", cc, nil, false},
			{"GET", "/genesys/1/admin/callback/watermarks", cc, nil, false},
			{"GET", "/genesys/1/admin/callback/queues?states=SCHEDULED", cc, nil, false},
			{"POST", "/genesys/1/admin/callback/cancel", cc, map[string]any{"ids": []string{other, unknown}}, false},
			{"GET", "/ges/v1/datatables/CALLBACK_SETTINGS", admin, nil, false},
			{"GET", "/ges/v1/datatables/CALLBACK_SETTINGS", cc, nil, false},
			{"GET", "/ges/v1/credentials/gws", admin, nil, false},
			{"GET", "/ges/v1/callbacks/" + unknown + "/session", admin, nil, false},
			{"GET", "/ges/v1/callin/groups", admin, nil, false},
			{"PUT", "/ges/v1/numbers/rules/Contract", admin, map[string]any{"countries": []string{"US"}, "patterns": []map[string]any{{"pattern": "1900*"}}, "services": []string{"Callback_Support"}}, false},
			{"PUT", "/ges/v1/numbers/rules/Contract", admin, map[string]any{"countries": []string{}}, true},
			{"GET", "/ges/v1/numbers/rules", admin, nil, false},
			{"GET", "/ges/v1/numbers/rules/Contract", admin, nil, false},
			{"POST", "/ges/v1/numbers/test", admin, map[string]any{"number": "+442079460000", "service": "Callback_Support"}, false},
			{"DELETE", "/ges/v1/numbers/rules/Contract", admin, nil, false},
			{"DELETE", "/ges/v1/numbers/rules/Contract", admin, nil, false},
			{"GET", "/ges/v1/health/live", nil, nil, false},
			{"GET", "/ges/v1/health/ready", nil, nil, false},
			{"GET", "/ges/v1/health/detail", nil, nil, false},
			{"GET", "/ges/v1/openapi/external.yaml", nil, nil, false},
			{"GET", "/ges/v1/openapi/nope.yaml", nil, nil, true},
		})
	})
}

// The API documentation page is served by the node itself: the page, the
// Swagger UI assets it loads (no other host) and the documents it shows.
func TestAPIDocsPage(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{NoPublish: true})
	n := s.Nodes[0]
	get := func(path string) *testenv.Response {
		t.Helper()
		r, err := testenv.Do("GET", n.InternalURL+path, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := get("/ges/api-docs"); r.Status != 200 || !strings.Contains(string(r.Body), `id="swagger-ui"`) {
		t.Fatalf("/ges/api-docs (after its redirect): %d %.200s", r.Status, r.Body)
	}
	page := get("/ges/api-docs/")
	if page.Status != 200 || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", page.Status, page.Header.Get("Content-Type"))
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	// Every asset the page names is served from here, with its type.
	assets := map[string]string{}
	for _, m := range regexpAll(`(?:src|href)="([^"]+)"`, string(page.Body)) {
		if strings.Contains(m, "//") {
			t.Errorf("the page loads %s from another host", m)
			continue
		}
		assets[m] = ""
	}
	for _, want := range []string{"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "apidocs.js"} {
		if _, ok := assets[want]; !ok {
			t.Errorf("the page does not load %s", want)
		}
	}
	for a := range assets {
		r := get("/ges/api-docs/" + a)
		if r.Status != 200 || len(r.Body) == 0 {
			t.Errorf("%s: %d, %d bytes", a, r.Status, len(r.Body))
		}
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasSuffix(a, ".js") && !strings.Contains(ct, "javascript"),
			strings.HasSuffix(a, ".css") && !strings.HasPrefix(ct, "text/css"):
			t.Errorf("%s: Content-Type %q", a, ct)
		}
	}
	if r := get("/ges/api-docs/LICENSE"); r.Status != 200 || !strings.Contains(string(r.Body), "Apache License") {
		t.Errorf("Swagger UI's licence is not shipped: %d", r.Status)
	}
	// The documents apidocs.js shows are the ones served, and valid.
	js := get("/ges/api-docs/apidocs.js")
	for _, doc := range regexpAll(`url: "([^"]+)"`, string(js.Body)) {
		r := get(doc)
		if r.Status != 200 {
			t.Errorf("%s: %d", doc, r.Status)
			continue
		}
		d, err := openapi3.NewLoader().LoadFromData(r.Body)
		if err == nil {
			err = d.Validate(context.Background())
		}
		if err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
	if n := len(regexpAll(`url: "([^"]+)"`, string(js.Body))); n != 2 {
		t.Errorf("the page shows %d documents, want 2", n)
	}
}

// regexpAll returns the first group of every match of re in s.
func regexpAll(re, s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}
