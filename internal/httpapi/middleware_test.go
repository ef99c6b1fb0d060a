package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/logging"
	"github.com/gesgo/ges/internal/metrics"
)

// Every request gets one JSON access line naming its route pattern, never
// the path or query it was sent with.
func TestAccessLine(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(logging.New(&buf, "INFO", 2048, nil))
	t.Cleanup(func() { slog.SetDefault(prev) })
	r := chi.NewRouter()
	r.Use(observe(metrics.New("test"), clock.System{}, "", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).path = unmatchedPath
		w.WriteHeader(404)
	})
	r.Route("/v", func(r chi.Router) {
		r.Get("/callback/{svc}/{id}", func(w http.ResponseWriter, r *http.Request) {
			info(r.Context()).tenant = "t1"
			w.WriteHeader(202)
		})
		r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	})
	for _, path := range []string{"/v/callback/Sales/+15551234567?_customer_number=+15551234567", "/nope/+15551234567", "/v/boom"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if m["msg"] == "access" {
			lines = append(lines, m)
		}
	}
	if strings.Contains(buf.String(), "5551234567") {
		t.Errorf("the log holds the number sent:\n%s", buf.String())
	}
	want := []struct {
		route, level, tenant string
		status               float64
	}{
		{"/v/callback/{svc}/{id}", "INFO", "t1", 202},
		{"unmatched", "INFO", "", 404},
		{"/v/boom", "WARN", "", 500},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d access lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		l := lines[i]
		if l["route"] != w.route || l["level"] != w.level || l["tenant"] != w.tenant || l["status"] != w.status || l["method"] != "GET" {
			t.Errorf("line %d: %v, want %+v", i, l, w)
		}
		if id, _ := l["corrId"].(string); id == "" {
			t.Errorf("line %d: no corrId", i)
		}
		if _, ok := l["ms"].(float64); !ok {
			t.Errorf("line %d: no ms", i)
		}
	}
}
