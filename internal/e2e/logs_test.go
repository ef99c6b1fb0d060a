package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/gesgo/ges/internal/testenv"
)

// Every request leaves one JSON access line (method, route pattern,
// status, ms, corrId, tenant) and nothing of what was sent: not the path,
// not the phone number, not the user data. Every line the node writes,
// go-redis' included, is JSON.
func TestAccessLog(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	const phone, secret = "+15559876543", "order-secret-4711"
	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey,
		map[string]any{"serviceName": "Callback_Sales", "phoneNumber": phone, "userData": map[string]any{"note": secret}})
	if code != 200 {
		t.Fatalf("create: %d %v", code, resp)
	}
	status, _ := resp["status"].(map[string]any)
	corrID, _ := status["corrId"].(string)
	id := resp["data"].(map[string]any)["id"].(string)
	if c, _ := n.Internal(t, "GET", "/genesys/1/service/callback/Callback_Sales?_customer_number="+phone, demoCCID(s), nil); c != 200 {
		t.Fatalf("query: %d", c)
	}
	if c, _ := n.Internal(t, "GET", "/genesys/1/service/callback/Callback_Sales/"+id, demoCCID(s), nil); c != 200 {
		t.Fatalf("get: %d", c)
	}
	if c, _ := n.External(t, "POST", "/engagement/v3/callbacks/create", "", map[string]any{"phoneNumber": phone}); c != 401 {
		t.Fatalf("no key: %d", c)
	}
	if c, _ := n.Internal(t, "GET", "/no/such/"+phone, "", nil); c != 404 {
		t.Fatalf("unmatched: %d", c)
	}

	type line struct {
		Level  string   `json:"level"`
		Msg    string   `json:"msg"`
		Method string   `json:"method"`
		Route  string   `json:"route"`
		Status int      `json:"status"`
		MS     *float64 `json:"ms"`
		CorrID string   `json:"corrId"`
		Tenant *string  `json:"tenant"`
	}
	want := map[string]bool{
		"POST /engagement/v3/callbacks/create 200 " + demoCCID(s):       false,
		"GET /genesys/1/service/callback/{svc} 200 " + demoCCID(s):      false,
		"GET /genesys/1/service/callback/{svc}/{id} 200 " + demoCCID(s): false,
		"POST /engagement/v3/callbacks/create 401 ":                     false,
		"GET unmatched 404 ": false,
	}
	sawCorr := false
	logs := n.Proc.Logs()
	for i, raw := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Errorf("line %d is not JSON: %q", i+1, raw)
			continue
		}
		if m["msg"] != "access" {
			continue
		}
		var l line
		_ = json.Unmarshal([]byte(raw), &l)
		if wantLevel := map[bool]string{true: "WARN", false: "INFO"}[l.Status >= 500]; l.Level != wantLevel {
			t.Errorf("access line at %s: %s", l.Level, raw)
		}
		if l.CorrID == "" || l.MS == nil || l.Method == "" || l.Route == "" || l.Tenant == nil {
			t.Errorf("incomplete access line: %s", raw)
			continue
		}
		if l.CorrID == corrID {
			sawCorr = true
		}
		k := l.Method + " " + l.Route + " " + strconv.Itoa(l.Status) + " " + *l.Tenant
		if _, ok := want[k]; ok {
			want[k] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no access line %q", k)
		}
	}
	if !sawCorr {
		t.Errorf("no access line carries the corrId %s the create answered", corrID)
	}
	for _, leak := range []string{phone, strings.TrimPrefix(phone, "+"), secret, "/no/such/"} {
		if strings.Contains(logs, leak) {
			t.Errorf("the log holds %q", leak)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}
