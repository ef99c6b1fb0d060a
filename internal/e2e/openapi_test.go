package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gesgo/ges/internal/testenv"
)

// openapiDoc is the part of an OpenAPI 3 document the conformance check
// reads.
type openapiDoc struct {
	Paths      map[string]map[string]any `yaml:"paths"`
	Components struct {
		Schemas   map[string]map[string]any `yaml:"schemas"`
		Responses map[string]map[string]any `yaml:"responses"`
	} `yaml:"components"`
}

func loadDoc(t *testing.T, n *testenv.Node, name string) *openapiDoc {
	t.Helper()
	r, err := testenv.Do("GET", n.InternalURL+"/ges/v1/openapi/"+name, nil, nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("served %s: %v %v", name, err, r)
	}
	var d openapiDoc
	if err := yaml.Unmarshal(r.Body, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// resolve follows a local $ref.
func (d *openapiDoc) resolve(v map[string]any) map[string]any {
	for i := 0; i < 10; i++ {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
		switch parts[0] {
		case "schemas":
			v = d.Components.Schemas[parts[1]]
		case "responses":
			v = d.Components.Responses[parts[1]]
		}
	}
	return v
}

// responseSchema finds the schema of a documented answer.
func (d *openapiDoc) responseSchema(path, method string, status int) (map[string]any, error) {
	op := asMap(d.Paths[path][strings.ToLower(method)])
	if op == nil {
		return nil, fmt.Errorf("%s %s is not documented", method, path)
	}
	resp := asMap(asMap(op["responses"])[strconv.Itoa(status)])
	if resp == nil {
		return nil, fmt.Errorf("%s %s does not document status %d", method, path, status)
	}
	resp = d.resolve(resp)
	return d.resolve(asMap(asMap(asMap(resp["content"])["application/json"])["schema"])), nil
}

// validate checks v against a JSON-schema subset: type, required,
// properties, items, enum, additionalProperties.
func (d *openapiDoc) validate(schema map[string]any, v any, at string) []string {
	schema = d.resolve(schema)
	if schema == nil {
		return nil
	}
	var errs []string
	fail := func(f string, a ...any) { errs = append(errs, at+": "+fmt.Sprintf(f, a...)) }
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			fail("%v not in %v", v, enum)
		}
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("want an object, got %T", v)
			return errs
		}
		required, _ := schema["required"].([]any)
		for _, r := range required {
			if _, ok := m[r.(string)]; !ok {
				fail("required %q missing", r)
			}
		}
		props := asMap(schema["properties"])
		for k, val := range m {
			if ps := asMap(props[k]); ps != nil {
				errs = append(errs, d.validate(ps, val, at+"."+k)...)
			} else if ap := asMap(schema["additionalProperties"]); ap != nil {
				errs = append(errs, d.validate(ap, val, at+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("want an array, got %T", v)
			return errs
		}
		for i, e := range a {
			errs = append(errs, d.validate(asMap(schema["items"]), e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			fail("want a string, got %T", v)
		} else if schema["format"] == "uuid" && !uuidRE.MatchString(s) {
			fail("%q is not a UUID", s)
		} else if schema["format"] == "date-time" && !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`).MatchString(s) {
			fail("%q is not an RFC 3339 date-time with offset", s)
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok {
			fail("want a number, got %T", v)
		} else if schema["type"] == "integer" && f != float64(int64(f)) {
			fail("want an integer, got %v", f)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want a boolean, got %T", v)
		}
	}
	return errs
}

type exchange struct {
	method, path, template string
	key                    string
	body                   any
}

// Responses of both ports match the OpenAPI documents the binary serves.
func TestResponsesMatchOpenAPI(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 60000
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	ext := loadDoc(t, n, "external.yaml")
	queued := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558000"})
	eventually(t, 5*time.Second, "QUEUED", func() bool { return state(t, n, queued) == "QUEUED" })
	later := wireTime(time.Now().Add(time.Hour))
	sched := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558001", "desiredTime": later})
	cancelled := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558002", "desiredTime": later})
	n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]string{"id": cancelled})
	q := url.Values{"numberOfDays": {"1"}, "reportBusy": {"true"}, "timezone": {"Europe/Paris"}}.Encode()
	cases := []exchange{
		{"POST", "/callbacks/create", "/callbacks/create", demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558003"}},
		{"POST", "/callbacks/create", "/callbacks/create", demoKey, map[string]any{"serviceName": "Nope", "phoneNumber": "1"}},
		{"POST", "/callbacks/create", "/callbacks/create", "", map[string]any{}},
		{"POST", "/callbacks/retrieve", "/callbacks/retrieve", demoKey, map[string]string{"id": queued}},
		{"POST", "/callbacks/retrieve", "/callbacks/retrieve", demoKey, map[string]string{"id": sched}},
		{"POST", "/callbacks/retrieve", "/callbacks/retrieve", demoKey, map[string]string{"id": cancelled}},
		{"POST", "/callbacks/retrieve", "/callbacks/retrieve", demoKey, map[string]string{"id": "00000000-0000-4000-8000-000000000000"}},
		{"POST", "/callbacks/cancel", "/callbacks/cancel", demoKey, map[string]string{"id": sched}},
		{"POST", "/callbacks/cancel", "/callbacks/cancel", demoKey, map[string]string{"id": sched}},
		{"GET", "/callbacks/availability/Callback_Sales?" + q, "/callbacks/availability/{service-name}", demoKey, nil},
		{"GET", "/callbacks/availability/Callback_Sales?start=x", "/callbacks/availability/{service-name}", demoKey, nil},
		{"GET", "/callbacks/open-for/Callback_Sales", "/callbacks/open-for/{service-name}", demoKey, nil},
		{"GET", "/callbacks/queue-status/Callback_Sales", "/callbacks/queue-status/{queue-name}", demoKey, nil},
		{"GET", "/estimated-wait-time?virtual-queues=Callback_Sales,Nope", "/estimated-wait-time", demoKey, nil},
	}
	checked := map[string]bool{}
	for _, c := range cases {
		r, err := n.ExternalDo(c.method, "/engagement/v3"+c.path, c.key, c.body)
		if err != nil {
			t.Fatal(err)
		}
		schema, err := ext.responseSchema(c.template, c.method, r.Status)
		if err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
			continue
		}
		var body any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Errorf("%s %s: not JSON: %s", c.method, c.path, r.Body)
			continue
		}
		for _, e := range ext.validate(schema, body, "body") {
			t.Errorf("%s %s (%d): %s", c.method, c.path, r.Status, e)
		}
		checked[fmt.Sprintf("%s %s %d", c.method, c.template, r.Status)] = true
	}
	var list []string
	for k := range checked {
		list = append(list, k)
	}
	sort.Strings(list)
	t.Logf("checked: %s", strings.Join(list, "; "))
	if len(checked) < 12 {
		t.Errorf("only %d distinct answers checked", len(checked))
	}
}
