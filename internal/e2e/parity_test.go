package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/sim/fixture"
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
	gms := gmsAs(t, n, demoCCID(s))
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

// TestParityQueuedLimit: with max_queued_callbacks_per_service at 1, an
// immediate create is refused while another callback of the service is in
// its queue, on both APIs and with the GMS text; a scheduled booking waits
// in the calendar and is not refused, but counts once it is handed to ORS;
// a callback leaving the queue makes room again.
func TestParityQueuedLimit(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 600000 // ORS keeps what it is given QUEUED
	fx.ContactCenter("Demo").SetSetting("Callback_Sales", "Max Queued Callbacks Per Service", "1")
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	cc := demoCCID(s)
	const want = "Limit of queued callbacks for Callback_Sales is reached."
	gmsCreate := func(body map[string]string) (int, string) {
		code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", cc, body)
		return code, string(b)
	}
	refusedBoth := func(when string) {
		t.Helper()
		code, b := gmsCreate(map[string]string{"_customer_number": "+15550811"})
		if code != 503 || !strings.Contains(b, want) || !strings.Contains(b, "CallbackExceptionServiceUnavailable") {
			t.Fatalf("%s: GMS create: %d %s, want 503 %q", when, code, b, want)
		}
		code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey,
			map[string]string{"serviceName": "Callback_Sales", "phoneNumber": "+15550812"})
		if st, _ := resp["status"].(map[string]any); code != 429 || st == nil || st["message"] != want {
			t.Fatalf("%s: external create: %d %v, want 429 %q", when, code, resp, want)
		}
	}
	code, b := gmsCreate(map[string]string{"_customer_number": "+15550810"})
	var first map[string]string
	decode(t, []byte(b), &first)
	if code != 200 || first["_id"] == "" {
		t.Fatalf("first immediate create: %d %s", code, b)
	}
	refusedBoth("one immediate callback queued")
	// A scheduled booking is not in the queue yet: accepted.
	soon := time.Now().Add(4 * time.Second)
	code, b = gmsCreate(map[string]string{"_customer_number": "+15550813", "_desired_time": wireTime(time.Now().Add(time.Hour))})
	if code != 200 {
		t.Fatalf("scheduled create with the queue full: %d %s", code, b)
	}
	// Room again once the queued one is cancelled.
	if code, b := n.Internal(t, "DELETE", "/genesys/1/service/callback/Callback_Sales/"+first["_id"], cc, nil); code != 200 {
		t.Fatalf("cancel: %d %s", code, string(b))
	}
	code, b = gmsCreate(map[string]string{"_customer_number": "+15550814", "_desired_time": wireTime(soon)})
	var sched map[string]string
	decode(t, []byte(b), &sched)
	if code != 200 {
		t.Fatalf("scheduled create: %d %s", code, b)
	}
	// The scheduled callback joins the queue when it is handed to ORS.
	eventually(t, 30*time.Second, "the scheduled callback handed to ORS", func() bool {
		return state(t, n, sched["_id"]) == "QUEUED"
	})
	refusedBoth("one scheduled callback handed to ORS")
	if code, b := n.Internal(t, "DELETE", "/genesys/1/service/callback/Callback_Sales/"+sched["_id"], cc, nil); code != 200 {
		t.Fatalf("cancel the scheduled one: %d %s", code, string(b))
	}
	if code, b = gmsCreate(map[string]string{"_customer_number": "+15550815"}); code != 200 {
		t.Fatalf("immediate create once the queue is empty: %d %s", code, b)
	}
}

// TestParityDailyNumberThrottle: GMS counts every create for a number per
// day, completed ones included, beside the limit of active callbacks per
// number; past the limit it answers with its own text.
func TestParityDailyNumberThrottle(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 600000
	fx.ContactCenter("Demo").SetSetting("Callback_Sales", "Throttle Customer Number Limit", "3")
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	cc := demoCCID(s)
	const number = "+15550820"
	for i := range 3 {
		code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", cc,
			map[string]string{"_customer_number": number, "_desired_time": wireTime(time.Now().Add(time.Duration(i+1) * time.Hour))})
		var created map[string]string
		decode(t, b, &created)
		if code != 200 {
			t.Fatalf("create %d: %d %s", i+1, code, b)
		}
		// Cancelled at once: the per-number limit of active callbacks
		// (2 by default) never applies, the daily count still does.
		if code, b := n.Internal(t, "DELETE", "/genesys/1/service/callback/Callback_Sales/"+created["_id"], cc, nil); code != 200 {
			t.Fatalf("cancel %d: %d %s", i+1, code, b)
		}
	}
	want := "Callback for _customer_number=" + number + " rejected because previous callbacks for this parameter were requested for more than 3 times today."
	code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", cc, map[string]string{"_customer_number": number})
	if code != 503 || !strings.Contains(string(b), want) {
		t.Fatalf("fourth create of the day (GMS): %d %s, want 503 %q", code, b, want)
	}
	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey,
		map[string]string{"serviceName": "Callback_Sales", "phoneNumber": number})
	if st, _ := resp["status"].(map[string]any); code != 429 || st == nil || st["message"] != want {
		t.Fatalf("fourth create of the day (external): %d %v", code, resp)
	}
	// Another number, and the same number in another service, are not held.
	if code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", cc, map[string]string{"_customer_number": "+15550821"}); code != 200 {
		t.Fatalf("another number: %d %s", code, b)
	}
	if code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Support", cc, map[string]string{"_customer_number": number}); code != 200 {
		t.Fatalf("same number, other service: %d %s", code, b)
	}
}

// TestParityQueuedAheadByWait: a callback scheduled 3 minutes ahead in a
// queue whose expected wait (URS) is 60 s is handed to ORS, and turns
// QUEUED, 60 s plus the service's buffer before its desired time, and
// never before.
func TestParityQueuedAheadByWait(t *testing.T) {
	const ewt, buffer = 60, 5
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 600000
	fx.URS.Queues["Callback_Sales"] = fixture.URSQueue{EWT: ewt, Position: 1}
	cc := fx.ContactCenter("Demo")
	cc.SetSetting("Callback_Sales", "Queue Ahead By EWT", "true")
	cc.SetSetting("Callback_Sales", "Request Execution Time Buffer (seconds)", fmt.Sprint(buffer))
	// One slot per local day, in a zone where it is about noon: the slot
	// the callback books starts hours before the lead, which is then the
	// only bound.
	cc.SetSetting("Callback_Sales", "Slot Duration (min)", "1440")
	cc.SetSetting("Callback_Sales", "Time Zone", noonZone(time.Now()))
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	desired := time.Now().Add(3 * time.Minute).Truncate(time.Millisecond)
	code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", demoCCID(s),
		map[string]string{"_customer_number": "+15550830", "_desired_time": wireTime(desired)})
	var created map[string]string
	decode(t, b, &created)
	if code != 200 || created["_id"] == "" {
		t.Fatalf("create: %d %s", code, b)
	}
	id := created["_id"]
	if st := state(t, n, id); st != "SCHEDULED" {
		t.Fatalf("state after the create: %s", st)
	}
	var handed entry
	eventually(t, 4*time.Minute, "the hand-off", func() bool {
		es := entriesFor(streamEntries(t, s), id)
		if len(es) > 0 {
			handed = es[0]
		}
		return len(es) > 0
	})
	at := time.UnixMilli(handed.StreamMS)
	lead := desired.Sub(at)
	t.Logf("handed off %.1f s before the desired time (expected wait %d s + buffer %d s)", lead.Seconds(), ewt, buffer)
	want := time.Duration(ewt+buffer) * time.Second
	if lead > want {
		t.Fatalf("handed off %s before the desired time: earlier than the lead %s", lead, want)
	}
	if lead < want-10*time.Second {
		t.Fatalf("handed off only %s before the desired time, want about %s", lead, want)
	}
	if st := state(t, n, id); st != "QUEUED" {
		t.Fatalf("state after the hand-off: %s", st)
	}
	if d := handed.Fields["_desired_time"]; d != nil && d != wireTime(desired) {
		t.Fatalf("the entry's desired time %v, want %s", d, wireTime(desired))
	}
}

// noonZone names a fixed-offset zone where it is between 10:00 and 14:00
// at now, far from a local midnight.
func noonZone(now time.Time) string {
	off := 12 - now.UTC().Hour()
	if off > 12 {
		off -= 24
	}
	if off < -12 {
		off += 24
	}
	switch {
	case off == 0:
		return "Etc/GMT"
	case off > 0:
		return fmt.Sprintf("Etc/GMT-%d", off) // POSIX signs: GMT-3 is 3 hours east
	}
	return fmt.Sprintf("Etc/GMT+%d", -off)
}
