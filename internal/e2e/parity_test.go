package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// TestParityRescheduleIntoThePast: GMS refuses a reschedule to a time
// already past; accepting it would only expire the callback later with
// FAIL_TIMEOUT_TTL after the client was told it succeeded.
func TestParityRescheduleIntoThePast(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 60000
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	cc := demoCCID(s)
	gms := func(method, path string, body any) (int, string) {
		code, b := n.Internal(t, method, path, cc, body)
		return code, string(b)
	}
	desired := time.Now().Add(time.Hour)
	code, b := gms("POST", "/genesys/1/service/callback/Callback_Sales", map[string]any{
		"_customer_number": "+15550701", "_desired_time": wireTime(desired)})
	var created map[string]string
	decode(t, []byte(b), &created)
	if code != 200 || created["_id"] == "" {
		t.Fatalf("create: %d %s", code, b)
	}
	id := created["_id"]
	path := "/genesys/1/service/callback/Callback_Sales/" + id
	past := wireTime(time.Now().Add(-10 * time.Minute))
	for _, key := range []string{"_new_desired_time", "_desired_time"} {
		code, b = gms("PUT", path, map[string]string{key: past})
		if code != 400 || !strings.Contains(b, `"exception"`) || !strings.Contains(b, "into the past") || !strings.Contains(b, past) {
			t.Fatalf("reschedule into the past with %s: %d %s", key, code, b)
		}
	}
	code, b = gms("GET", path, nil)
	if code != 200 || !strings.Contains(b, `"SCHEDULED"`) || !strings.Contains(b, wireTime(desired)) {
		t.Fatalf("a refused reschedule changed the callback: %d %s", code, b)
	}
	// A future time is still accepted.
	later := wireTime(desired.Add(10 * time.Minute))
	if code, b = gms("PUT", path, map[string]string{"_new_desired_time": later}); code != 200 || !strings.Contains(b, later) {
		t.Fatalf("reschedule to the future: %d %s", code, b)
	}
}

// TestParityUserDataUpdate: a GMS PUT that changes a user-data key is seen
// by the next GET, from Redis and from Postgres alike, for user data small
// enough to be kept in Redis and for user data kept in Postgres only; an
// empty value removes the key.
func TestParityUserDataUpdate(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 60000
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	cc := demoCCID(s)
	big := strings.Repeat("x", 3000) // above USERDATA_INLINE_BYTES: kept in Postgres only
	for _, tc := range []struct{ name, filler string }{{"inline", "small"}, {"postgres-only", big}} {
		code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", cc, map[string]any{
			"_customer_number": "+15550702", "_desired_time": wireTime(time.Now().Add(time.Hour)),
			"ORDER": "A-1", "NOTE": "keep me", "FILLER": tc.filler})
		var created map[string]string
		decode(t, b, &created)
		if code != 200 || created["_id"] == "" {
			t.Fatalf("%s: create: %d %s", tc.name, code, b)
		}
		path := "/genesys/1/service/callback/Callback_Sales/" + created["_id"]
		get := func() map[string]any {
			code, b := n.Internal(t, "GET", path, cc, nil)
			if code != 200 {
				t.Fatalf("%s: get: %d %s", tc.name, code, b)
			}
			var recs []map[string]any
			if err := jsonDecode(strings.NewReader(string(b)), &recs); err != nil || len(recs) != 1 {
				var rec map[string]any
				decode(t, b, &rec)
				return rec
			}
			return recs[0]
		}
		if code, b := n.Internal(t, "PUT", path, cc, map[string]string{"ORDER": "B-2"}); code != 200 {
			t.Fatalf("%s: change: %d %s", tc.name, code, b)
		}
		if rec := get(); rec["ORDER"] != "B-2" || rec["NOTE"] != "keep me" || rec["FILLER"] != tc.filler {
			t.Fatalf("%s: after change: ORDER=%v NOTE=%v", tc.name, rec["ORDER"], rec["NOTE"])
		}
		// The list query reads Postgres: it sees the change too.
		code, b = n.Internal(t, "GET", "/genesys/1/service/callback/Callback_Sales?_customer_number=%2B15550702", cc, nil)
		if code != 200 || !strings.Contains(string(b), `"B-2"`) || strings.Contains(string(b), `"A-1"`) {
			t.Fatalf("%s: list after change: %d %.300s", tc.name, code, b)
		}
		if code, b := n.Internal(t, "PUT", path, cc, map[string]string{"ORDER": ""}); code != 200 {
			t.Fatalf("%s: remove: %d %s", tc.name, code, b)
		}
		if rec := get(); rec["ORDER"] != nil || rec["NOTE"] != "keep me" {
			t.Fatalf("%s: after remove: ORDER=%v NOTE=%v", tc.name, rec["ORDER"], rec["NOTE"])
		}
		// A second change after the removal: the key comes back with the new value.
		if code, b := n.Internal(t, "PUT", path, cc, map[string]string{"ORDER": "C-3"}); code != 200 {
			t.Fatalf("%s: re-add: %d %s", tc.name, code, b)
		}
		if rec := get(); rec["ORDER"] != "C-3" {
			t.Fatalf("%s: after re-add: ORDER=%v", tc.name, rec["ORDER"])
		}
	}
}

// TestParityAdminFilterKeys: the admin queue and watermark queries count
// only the callbacks matching extra filter keys, as GMS does.
func TestParityAdminFilterKeys(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 60000 // ORS holds the callbacks QUEUED
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	cc := demoCCID(s)
	var ids []string
	for i, typ := range []string{"sales", "sales", "billing"} {
		code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", cc, map[string]any{
			"_customer_number": "+1555071" + string(rune('0'+i)), "_service_type": typ})
		var created map[string]string
		decode(t, b, &created)
		if code != 200 || created["_id"] == "" {
			t.Fatalf("create: %d %s", code, b)
		}
		ids = append(ids, created["_id"])
	}
	for _, id := range ids {
		eventually(t, 20*time.Second, "QUEUED", func() bool {
			_, b := n.Internal(t, "GET", "/genesys/1/service/callback/Callback_Sales/"+id, cc, nil)
			return strings.Contains(string(b), `"QUEUED"`)
		})
	}
	queues := func(q string) int {
		code, b := n.Internal(t, "GET", "/genesys/1/admin/callback/queues?target=Callback_Sales"+q, cc, nil)
		var out map[string][]map[string]string
		decode(t, b, &out)
		if code != 200 {
			t.Fatalf("queues %s: %d %s", q, code, b)
		}
		return len(out["Callback_Sales"])
	}
	watermark := func(q string) int {
		code, b := n.Internal(t, "GET", "/genesys/1/admin/callback/watermarks?service_name=Callback_Sales"+q, cc, nil)
		var out struct {
			Services map[string]int
			Total    int
		}
		decode(t, b, &out)
		if code != 200 || out.Services["Callback_Sales"] != out.Total {
			t.Fatalf("watermarks %s: %d %s", q, code, b)
		}
		return out.Total
	}
	for _, c := range []struct {
		q    string
		want int
	}{{"", 3}, {"&_service_type=sales", 2}, {"&_service_type=billing", 1}, {"&_service_type=nobody", 0}, {"&_service_type=!sales", 1}} {
		if got := queues(c.q); got != c.want {
			t.Errorf("queues %q: %d callbacks, want %d", c.q, got, c.want)
		}
		if got := watermark(c.q); got != c.want {
			t.Errorf("watermarks %q: %d, want %d", c.q, got, c.want)
		}
	}
	if got := queues("&states=QUEUED&_service_type=billing"); got != 1 {
		t.Errorf("queues with states and a filter key: %d, want 1", got)
	}
}

// TestParityGMSMessages: the GMS response texts clients and test suites
// match on.
func TestParityGMSMessages(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{NoPublish: true})
	n := s.Nodes[0]
	publishTable(t, s, n, row{"key": "Limited", "columns": row{"Throttle Callbacks Per Service 1": "1", "Throttle TTL 1 (seconds)": "600"}})
	const unknown = "11111111-1111-4111-8111-111111111111"
	code, b := n.Internal(t, "GET", "/genesys/1/service/callback?_id="+unknown, unknown, nil)
	if want := "Callback Contact Center ID: " + unknown + " is not configured in transaction list."; code != 400 || !strings.Contains(string(b), want) {
		t.Fatalf("unknown contact center: %d %s, want %q", code, b, want)
	}
	if code, b = n.Internal(t, "POST", "/genesys/1/service/callback/Limited", demoCCID(s), map[string]string{"_customer_number": "+18880"}); code != 200 {
		t.Fatalf("first create: %d %s", code, b)
	}
	code, b = n.Internal(t, "POST", "/genesys/1/service/callback/Limited", demoCCID(s), map[string]string{"_customer_number": "+18881"})
	if want := "Limit of queued callbacks for Limited is reached for interval 600s."; code != 503 || !strings.Contains(string(b), want) {
		t.Fatalf("rate window: %d %s, want %q", code, b, want)
	}
}
