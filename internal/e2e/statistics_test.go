package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gesgo/ges/internal/testenv"
)

const statsPath = "/engagement/v3/statistics/operations/get-statistic-ex"

// gwsStats calls the statistics proxy the way the generated clients do: a
// POST with Content-Type application/json and, when given, cache-control.
func gwsStats(t *testing.T, n *testenv.Node, method, key string, body any, cacheControl string) (int, map[string]any) {
	t.Helper()
	h := http.Header{}
	h.Set("x-api-key", key)
	h.Set("Content-Type", "application/json")
	if cacheControl != "" {
		h.Set("cache-control", cacheControl)
	}
	r, err := testenv.Do(method, n.ExternalURL+statsPath, h, body)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return r.Status, m
}

// gwsStatsCalls is how many authenticated calls GWS Statistics received.
func gwsStatsCalls(t *testing.T, s *testenv.Stack) int {
	t.Helper()
	r, err := testenv.Do("GET", s.Sim.AdminURL+"/sim/stats/calls", nil, nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("sim stats calls: %v %v", err, r)
	}
	var c struct {
		Calls int `json:"calls"`
	}
	decode(t, r.Body, &c)
	return c.Calls
}

func simAdminDo(t *testing.T, s *testenv.Stack, method, path string) {
	t.Helper()
	r, err := testenv.Do(method, s.Sim.AdminURL+path, nil, nil)
	if err != nil || r.Status >= 300 {
		t.Fatalf("%s %s: %v %v", method, path, err, r)
	}
}

// alertCounter sums an alert counter's samples on a node (0 before its first
// occurrence).
func alertCounter(t *testing.T, n *testenv.Node, name string) float64 {
	t.Helper()
	var sum float64
	for _, l := range strings.Split(metricsText(t, n), "\n") {
		if strings.HasPrefix(l, name+"{") {
			if f, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64); err == nil {
				sum += f
			}
		}
	}
	return sum
}

func putTenantCredentials(t *testing.T, n *testenv.Node, ccid, kind string, body any) (int, string) {
	t.Helper()
	code, b := n.Internal(t, "PUT", "/ges/v1/credentials/"+kind, ccid, body)
	return code, string(b)
}

func envelopeMessage(m map[string]any) string {
	st, _ := m["status"].(map[string]any)
	s, _ := st["message"].(string)
	return s
}

func TestStatisticsProxy(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	ccid := demoCCID(s)

	// No credentials stored: 401, and GWS is not asked.
	code, m := gwsStats(t, n, "POST", demoKey, nil, "max-age=30")
	if code != 401 || envelopeMessage(m) != "GWS credentials not configured" {
		t.Fatalf("without credentials: %d %v", code, m)
	}
	if gwsStatsCalls(t, s) != 0 {
		t.Fatal("GWS Statistics was called without credentials")
	}

	// The credentials' shape is checked before they are stored.
	for _, bad := range []string{`{"clientId":""}`, `{"clientId":"x"}`, `{"clientId":"x","clientSecret":"y","other":1}`} {
		if code, b := putTenantCredentials(t, n, ccid, "gws", bad); code != 400 {
			t.Errorf("PUT gws %s: %d %s", bad, code, b)
		}
	}
	good := map[string]string{"clientId": testenv.ClientID, "clientSecret": testenv.ClientSecret}
	if code, b := putTenantCredentials(t, n, ccid, "gws", good); code != 200 {
		t.Fatalf("PUT gws: %d %s", code, b)
	}

	// Empty body: every statistic, from GWS once.
	code, m = gwsStats(t, n, "POST", demoKey, nil, "max-age=30")
	if code != 200 {
		t.Fatalf("statistics: %d %v", code, m)
	}
	data, ok := m["data"].(map[string]any)
	if !ok {
		t.Fatalf("data is not an object: %v", m)
	}
	list, _ := data["statistics"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "CurrentNumberWaitingCalls" || list[0].(map[string]any)["value"] != 4.0 {
		t.Fatalf("statistics: %v", data)
	}
	if c := gwsStatsCalls(t, s); c != 1 {
		t.Fatalf("GWS calls after the first request: %d, want 1", c)
	}

	// Within max-age: from the cache, also for the default max-age, for
	// max-age=0 (clamped to 15 s), for `{}` and for the legacy GET.
	for _, c := range []struct {
		method, cc string
		body       any
	}{{"POST", "max-age=30", nil}, {"POST", "", nil}, {"POST", "max-age=0", nil}, {"POST", "no-cache, max-age=1", "{}"}, {"GET", "", nil}} {
		code, m := gwsStats(t, n, c.method, demoKey, c.body, c.cc)
		if code != 200 {
			t.Fatalf("%s %q: %d %v", c.method, c.cc, code, m)
		}
		if _, ok := m["data"].(map[string]any); !ok {
			t.Fatalf("%s %q: data is not an object: %v", c.method, c.cc, m)
		}
	}
	if c := gwsStatsCalls(t, s); c != 1 {
		t.Fatalf("GWS calls after cached requests: %d, want 1", c)
	}

	// Another body is another cache entry.
	one := `{"data":{"statistics":[{"statisticId":"s1","name":"CurrentNumberWaitingCalls","objectId":"Callback_Sales","objectType":"Queue"}]}}`
	code, m = gwsStats(t, n, "POST", demoKey, one, "max-age=0")
	if code != 200 {
		t.Fatalf("one statistic: %d %v", code, m)
	}
	list, _ = m["data"].(map[string]any)["statistics"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["statisticId"] != "s1" {
		t.Fatalf("one statistic: %v", m["data"])
	}
	if c := gwsStatsCalls(t, s); c != 2 {
		t.Fatalf("GWS calls after a new body: %d, want 2", c)
	}
	if code, m = gwsStats(t, n, "POST", demoKey, one, ""); code != 200 || gwsStatsCalls(t, s) != 2 {
		t.Fatalf("same body again: %d %v, calls %d", code, m, gwsStatsCalls(t, s))
	}

	// A body that is not a JSON object is the caller's mistake.
	if code, m = gwsStats(t, n, "POST", demoKey, `[1,2]`, ""); code != 400 {
		t.Fatalf("array body: %d %v", code, m)
	}
	// The cache is per tenant: Other has no credentials.
	if code, m = gwsStats(t, n, "POST", otherKey, nil, ""); code != 401 {
		t.Fatalf("other tenant: %d %v", code, m)
	}

	// GWS refuses the credentials: 401 and GWS_INCORRECT_CLIENT_CREDENTIALS.
	before := alertCounter(t, n, "GWS_INCORRECT_CLIENT_CREDENTIALS")
	if code, b := putTenantCredentials(t, n, ccid, "gws", map[string]string{"clientId": testenv.ClientID, "clientSecret": "wrong"}); code != 200 {
		t.Fatalf("PUT gws: %d %s", code, b)
	}
	if code, m = gwsStats(t, n, "POST", demoKey, nil, ""); code != 401 {
		t.Fatalf("wrong secret: %d %v", code, m)
	}
	if after := alertCounter(t, n, "GWS_INCORRECT_CLIENT_CREDENTIALS"); after != before+1 {
		t.Fatalf("GWS_INCORRECT_CLIENT_CREDENTIALS %v -> %v", before, after)
	}

	// GWS Statistics fails: 500 and GWS_SERVER_ERROR, until it recovers.
	if code, b := putTenantCredentials(t, n, ccid, "gws", good); code != 200 {
		t.Fatalf("PUT gws: %d %s", code, b)
	}
	simAdminDo(t, s, "POST", "/sim/stats/fail")
	before = alertCounter(t, n, "GWS_SERVER_ERROR")
	fresh := `{"statistics":[{"name":"CurrentNumberWaitingCalls","objectId":"Callback_Sales"}]}`
	if code, m = gwsStats(t, n, "POST", demoKey, fresh, ""); code != 500 {
		t.Fatalf("GWS failing: %d %v", code, m)
	}
	if after := alertCounter(t, n, "GWS_SERVER_ERROR"); after != before+1 {
		t.Fatalf("GWS_SERVER_ERROR %v -> %v", before, after)
	}
	simAdminDo(t, s, "DELETE", "/sim/stats/fail")
	if code, m = gwsStats(t, n, "POST", demoKey, fresh, ""); code != 200 {
		t.Fatalf("GWS recovered: %d %v", code, m)
	}
}
