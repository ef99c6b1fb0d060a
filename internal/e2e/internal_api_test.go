package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

func TestGMSCallbackAPI(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 60000 // keep ORS from moving our callbacks: the test reports states itself
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	cc := demoCCID(s)
	gms := func(method, path string, body any) (int, []byte) { return n.Internal(t, method, path, cc, body) }

	// Create, JSON and form.
	code, b := gms("POST", "/genesys/1/service/callback/Callback_Sales", map[string]any{
		"_customer_number": "+15550300", "_desired_time": wireTime(time.Now().Add(time.Hour)), "CB_SUBSCRIPTION_ID": "SUB-1"})
	var created map[string]string
	decode(t, b, &created)
	if code != 200 || !uuidRE.MatchString(created["_id"]) || created["_action"] != "ConfirmationDialog" {
		t.Fatalf("create: %d %s", code, b)
	}
	id := created["_id"]
	r, err := testenv.Do("POST", n.InternalURL+"/genesys/1/service/callback/Callback_Sales",
		map[string][]string{"ContactCenterId": {cc}, "Content-Type": {"application/x-www-form-urlencoded"}},
		url.Values{"_customer_number": {"+15550301"}}.Encode())
	if err != nil || r.Status != 200 {
		t.Fatalf("form create: %v %+v", err, r)
	}
	var formCreated map[string]string
	decode(t, r.Body, &formCreated)

	// Errors in the GMS envelope.
	code, b = gms("POST", "/genesys/1/service/callback/Callback_Sales", map[string]any{"_desired_time": "x"})
	if code != 400 || !strings.Contains(string(b), `"exception"`) || !strings.Contains(string(b), "_customer_number") {
		t.Fatalf("missing number: %d %s", code, b)
	}
	if code, b = n.Internal(t, "GET", "/genesys/1/service/callback?_id="+id, "11111111-1111-4111-8111-111111111111", nil); code != 400 || !strings.Contains(string(b), "is not configured") {
		t.Fatalf("unknown contact center: %d %s", code, b)
	}
	if code, _ = n.Internal(t, "GET", "/genesys/1/service/callback?_id="+id, "", nil); code != 400 {
		t.Fatalf("no contact center header: %d", code)
	}

	// ORS-style reports move the state forward only; empty values delete keys.
	put := func(kv map[string]string) (int, map[string]string) {
		code, b := gms("PUT", "/genesys/1/service/callback/Callback_Sales/"+id, kv)
		var rec map[string]string
		if code == 200 {
			decode(t, b, &rec)
		}
		return code, rec
	}
	if code, rec := put(map[string]string{"_callback_state": "ROUTING", "_ors_session_id": "S1", "_CB_DIAL_1_RESULT": "PERSON"}); code != 200 || rec["_callback_state"] != "ROUTING" || rec["_ors_session_id"] != "S1" {
		t.Fatalf("report ROUTING: %d %v", code, rec)
	}
	if code, rec := put(map[string]string{"_callback_state": "QUEUED", "CB_SUBSCRIPTION_ID": ""}); code != 200 || rec["_callback_state"] != "ROUTING" {
		t.Fatalf("regression was applied: %d %v", code, rec)
	} else if _, still := rec["CB_SUBSCRIPTION_ID"]; still {
		t.Fatalf("empty value did not delete the key: %v", rec)
	}
	if code, _ := put(map[string]string{"_callback_state": "NONSENSE"}); code != 400 {
		t.Fatalf("bad state: %d", code)
	}
	if code, _ := gms("PUT", "/genesys/1/service/callback/Callback_Support/"+id, map[string]string{"x": "1"}); code != 404 {
		t.Fatalf("wrong service: %d", code)
	}

	// Queries by property, with negation and OR.
	query := func(q string) []map[string]string {
		code, b := gms("GET", "/genesys/1/service/callback/Callback_Sales?"+q, nil)
		if code != 200 {
			t.Fatalf("query %s: %d %s", q, code, b)
		}
		var recs []map[string]string
		decode(t, b, &recs)
		return recs
	}
	if recs := query("_customer_number=%2B15550300&_callback_state=!COMPLETED"); len(recs) != 1 || recs[0]["_id"] != id {
		t.Fatalf("query !COMPLETED: %v", recs)
	}
	if recs := query("_customer_number=%2B15550300&_customer_number=%2B15550301&operand=OR"); len(recs) != 2 {
		t.Fatalf("query OR: %v", recs)
	}
	if recs := query("_callback_state=COMPLETED"); len(recs) != 0 {
		t.Fatalf("query COMPLETED: %v", recs)
	}

	// Completion, then cancel is a no-op on this API.
	if code, rec := put(map[string]string{"_callback_state": "COMPLETED", "_callback_reason": "FAIL_CALL_TO_CUSTOMER"}); code != 200 || rec["_callback_reason"] != "FAIL_CALL_TO_CUSTOMER" {
		t.Fatalf("report COMPLETED: %d %v", code, rec)
	}
	if code, _ := put(map[string]string{"_callback_state": "ROUTING"}); code != 400 {
		t.Fatalf("state change after completion: %d", code)
	}
	if code, b := gms("DELETE", "/genesys/1/service/callback/Callback_Sales/"+id, nil); code != 200 || !strings.Contains(string(b), "FAIL_CALL_TO_CUSTOMER") {
		t.Fatalf("cancel of completed: %d %s", code, b)
	}
	// Cancel of the other one, twice.
	for range 2 {
		if code, b := gms("DELETE", "/genesys/1/service/callback/Callback_Sales/"+formCreated["_id"], nil); code != 200 || !strings.Contains(string(b), `"CANCELLED"`) {
			t.Fatalf("cancel: %d %s", code, b)
		}
	}
	// Alias by path.
	if code, b := gms("GET", "/genesys/1/service/callback/Callback_Sales/"+id, nil); code != 200 || !strings.Contains(string(b), id) {
		t.Fatalf("alias: %d %s", code, b)
	}
	if code, _ := gms("GET", "/genesys/1/service/callback/Callback_Sales/00000000-0000-4000-8000-000000000000", nil); code != 404 {
		t.Fatalf("alias unknown: %d", code)
	}
	// Another contact center sees nothing of it.
	if code, b := n.Internal(t, "GET", "/genesys/1/service/callback?_id="+id, otherCCID(s), nil); code != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("other tenant query: %d %s", code, b)
	}
}

// The third active callback for one number is refused on both APIs, and
// the alert counter moves.
func TestPerNumberLimit(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 60000
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	body := map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550400", "desiredTime": wireTime(time.Now().Add(time.Hour))}
	first := create(t, n, demoKey, body)
	create(t, n, demoKey, body)
	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, body)
	if code != 429 || resp["data"] != nil {
		t.Fatalf("third: %d %v", code, resp)
	}
	code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", demoCCID(s), map[string]string{"_customer_number": "+15550400"})
	if code != 503 || !strings.Contains(string(b), "CallbackExceptionServiceUnavailable") {
		t.Fatalf("third on GMS API: %d %s", code, b)
	}
	if !strings.Contains(metricsText(t, n), "CB_ENQUEUE_LIMIT_REACHED{") {
		t.Fatal("CB_ENQUEUE_LIMIT_REACHED did not move")
	}
	// Another service, or the same number after a cancel, is fine.
	create(t, n, demoKey, map[string]any{"serviceName": "Callback_Support", "phoneNumber": "+15550400"})
	n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]string{"id": first})
	create(t, n, demoKey, body)
}

func TestDesignerPublish(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Nodes: 2})
	a, b := s.Nodes[0], s.Nodes[1]
	cc := demoCCID(s)
	publish := func(rows []map[string]any) (int, string) {
		code, body := a.Internal(t, "PUT", "/ges/v1/datatables/CALLBACK_SETTINGS", cc, map[string]any{"table": "CALLBACK_SETTINGS", "rows": rows})
		return code, string(body)
	}
	// A bad row refuses the whole publish, naming row and column.
	for _, c := range []struct {
		col, val, want string
	}{
		{"Time Zone", "Mars/Olympus", `column \"Time Zone\"`},
		{"Slot Duration (min)", "7", "divisor of 60"},
		{"Capacity", "-1", "at least 0"},
		{"Business Hours", "Mon-Fri 09:00-12:00; Mon 11:00-14:00", "overlapping hours"},
		{"Special Days", "2027-02-30 closed", "invalid date"},
	} {
		code, body := publish([]map[string]any{
			{"key": "Callback_Sales", "columns": map[string]any{"Time Zone": "UTC"}},
			{"key": "Callback_New", "columns": map[string]any{c.col: c.val}},
		})
		if code != 400 || !strings.Contains(body, "row 2") || !strings.Contains(body, c.want) {
			t.Fatalf("bad %s: %d %s", c.col, code, body)
		}
	}
	if code, _ := b.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{"serviceName": "Callback_New", "phoneNumber": "1"}); code != 400 {
		t.Fatal("a refused publish was applied")
	}
	// A good publish on node A changes what node B answers.
	code, body := publish([]map[string]any{{"key": "Callback_New", "columns": map[string]any{"Time Zone": "Europe/London", "My Column": "kept"}}})
	if code != 200 {
		t.Fatalf("publish: %d %s", code, body)
	}
	eventually(t, 2*time.Second, "node B applies the publish", func() bool {
		code, _ := b.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{"serviceName": "Callback_New", "phoneNumber": "+15550500"})
		return code == 200
	})
	if code, _ := b.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550501"}); code != 400 {
		t.Fatal("the replaced table still offers Callback_Sales")
	}
	code, got := b.Internal(t, "GET", "/ges/v1/datatables/CALLBACK_SETTINGS", cc, nil)
	if code != 200 || !strings.Contains(string(got), `"My Column":"kept"`) {
		t.Fatalf("stored table: %d %s", code, got)
	}
	// The other tenant's table is untouched.
	if code, _ := b.External(t, "POST", "/engagement/v3/callbacks/create", otherKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550502"}); code != 200 {
		t.Fatal("another tenant's table changed")
	}
}

func TestMetricsAndHealth(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550600"})
	n.External(t, "POST", "/engagement/v3/callbacks/retrieve", demoKey, map[string]string{"id": "00000000-0000-4000-8000-000000000000"})
	m := metricsText(t, n)
	for _, want := range []string{
		`ges_callbacks_created{tenant="` + demoCCID(s) + `"} 1`,
		`ges_http_requests_total{path="/engagement/v3/callbacks/create",tenant="` + demoCCID(s) + `"} 1`,
		`ges_http_failed_requests_total{httpCode="404",path="/engagement/v3/callbacks/retrieve"`,
		`ges_http_request_duration_seconds_count{method="POST",path="/engagement/v3/callbacks/create"} 1`,
		`ges_build_info{version=`, `ges_monitor_size{type="waiting"}`, `ges_monitor_size{type="inflight"}`,
		`GES_HEALTH{host=`, `REDIS_CONNECTION{host=`, `ORS_REDIS_STATUS{host=`, `GWS_ENV_STATUS{host=`,
		`GWS_AUTH_STATUS{host=`, `GWS_CONFIG_STATUS{host=`, `ALL_URS_DOWN{host=`, `ges_process_cpu_seconds_total`,
		`http_400_tolerance`, `http_401_tolerance`, `http_404_tolerance`, `rbac_create_vq_proxy_error_tolerance`,
		`http_500_tolerance 2`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "UNCAUGHT_EXCEPTION{") {
		t.Error("an alert counter is exported before its first occurrence")
	}
	code, b := n.Internal(t, "GET", "/ges/v1/health/detail", "", nil)
	if code != 200 || !strings.Contains(string(b), `"status":"UP"`) || !strings.Contains(string(b), `"postgres"`) {
		t.Fatalf("health: %d %s", code, b)
	}
	// Voice Redis down: ORS_REDIS_STATUS and GES_HEALTH drop to 0, readiness stays.
	s.Voice.Stop()
	eventually(t, 5*time.Second, "ORS_REDIS_STATUS 0", func() bool {
		return strings.Contains(metricsText(t, n), "ORS_REDIS_STATUS{host=") && hasSample(metricsText(t, n), "ORS_REDIS_STATUS", "0") && hasSample(metricsText(t, n), "GES_HEALTH", "0")
	})
	if code, _ := n.Internal(t, "GET", "/ges/v1/health/ready", "", nil); code != 200 {
		t.Fatal("not ready without the Voice Redis")
	}
}

func hasSample(m, name, value string) bool {
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, name+"{") && strings.HasSuffix(l, " "+value) {
			return true
		}
	}
	return false
}
