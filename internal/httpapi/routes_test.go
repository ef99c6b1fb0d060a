package httpapi_test

import (
	"context"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/api"
	"github.com/gesgo/ges/internal/httpapi"
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/ui"
)

// undocumented are the routes of the internal port that are no API and so
// are in no OpenAPI document, by pattern prefix. Everything else a router
// serves must be documented, and everything documented must be served.
var undocumented = []struct{ prefix, why string }{
	{"/metrics", "Prometheus exposition, its contract is the metric names (architecture.md §8)"},
	{"/debug/pprof", "Go's runtime profiles for operators (net/http/pprof)"},
	{"/ges/v1/debug/", "fault injection (FAULT_INJECTION=true only), for alert drills"},
	{"/ges/api-docs", "the HTML page that shows these documents (Swagger UI) and its assets"},
	{"/ges/static/", "the Callback UI's stylesheet and script"},
}

// uiPage: the Callback UI's HTML pages and forms live under /ges, beside
// the admin APIs under /ges/v1.
func uiPage(pattern string) bool {
	return (pattern == "/ges" || strings.HasPrefix(pattern, "/ges/")) && !strings.HasPrefix(pattern, "/ges/v1/")
}

func excluded(pattern string) bool {
	if uiPage(pattern) {
		return true
	}
	for _, u := range undocumented {
		if strings.HasPrefix(pattern, u.prefix) {
			return true
		}
	}
	return false
}

var paramRE = regexp.MustCompile(`\{[^}]*\}`)

// shape makes a chi pattern and an OpenAPI path comparable: parameter
// names may differ ({svc} and {service}), positions may not.
func shape(p string) string { return paramRE.ReplaceAllString(p, "{}") }

func walk(t *testing.T, h http.Handler, prefix string) map[string]bool {
	t.Helper()
	routes, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("handler %T is not a chi router", h)
	}
	out := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(strings.ReplaceAll(route, "/*/", "/"), "/*")
		if route == "" {
			route = "/"
		}
		if !strings.HasPrefix(route, prefix) {
			t.Errorf("%s %s is outside %s", method, route, prefix)
			return nil
		}
		out[method+" "+shape(strings.TrimPrefix(route, prefix))] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func documented(t *testing.T, name string) (*openapi3.T, map[string]bool) {
	t.Helper()
	b, err := api.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out[method+" "+shape(path)] = true
		}
	}
	return doc, out
}

// Every route of both ports' real routers is in its port's document, and
// every documented operation is served.
func TestEveryRouteDocumented(t *testing.T) {
	m := metrics.New("test")
	u := ui.New(ui.Deps{})
	internal := httpapi.Internal(httpapi.InternalDeps{Deps: httpapi.Deps{Metrics: m}, FaultInjection: true, Extra: u.Mount})
	external := httpapi.External(httpapi.Deps{Metrics: m})
	for _, c := range []struct {
		doc, prefix string
		h           http.Handler
	}{
		{"internal.yaml", "", internal},
		{"external.yaml", "/engagement/v3", external},
	} {
		t.Run(c.doc, func(t *testing.T) {
			_, docd := documented(t, c.doc)
			served := walk(t, c.h, c.prefix)
			var missing, stale []string
			skipped := 0
			for r := range served {
				if excluded(c.prefix + strings.SplitN(r, " ", 2)[1]) {
					skipped++
					continue
				}
				if !docd[r] {
					missing = append(missing, r)
				}
			}
			for r := range docd {
				if !served[r] {
					stale = append(stale, r)
				}
			}
			sort.Strings(missing)
			sort.Strings(stale)
			for _, r := range missing {
				t.Errorf("served but not documented: %s", r)
			}
			for _, r := range stale {
				t.Errorf("documented but not served: %s", r)
			}
			t.Logf("%d routes served, %d documented, %d excluded (UI pages, metrics, profiles, fault injection, docs page)", len(served), len(docd), skipped)
		})
	}
}

// Every operation has an operationId (unique in its document), a summary
// and at least one example, of a request or of an answer.
func TestEveryOperationHasIDAndExample(t *testing.T) {
	for _, name := range []string{"external.yaml", "internal.yaml"} {
		t.Run(name, func(t *testing.T) {
			doc, _ := documented(t, name)
			ids := map[string]string{}
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					at := method + " " + path
					if op.OperationID == "" {
						t.Errorf("%s: no operationId", at)
					} else if prev, dup := ids[op.OperationID]; dup {
						t.Errorf("%s: operationId %s already names %s", at, op.OperationID, prev)
					}
					ids[op.OperationID] = at
					if op.Summary == "" {
						t.Errorf("%s: no summary", at)
					}
					if !hasExample(op) {
						t.Errorf("%s: no example", at)
					}
				}
			}
		})
	}
}

func hasExample(op *openapi3.Operation) bool {
	media := func(c openapi3.Content) bool {
		for _, mt := range c {
			if mt.Example != nil || len(mt.Examples) > 0 {
				return true
			}
		}
		return false
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil && media(op.RequestBody.Value.Content) {
		return true
	}
	for _, r := range op.Responses.Map() {
		if r.Value != nil && media(r.Value.Content) {
			return true
		}
	}
	return false
}
