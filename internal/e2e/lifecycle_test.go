package e2e

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// The body the published JavaScript client puts on the wire goes through
// the whole loop: stream entry, ORS session, states reported back, final
// reason; the retrieve fields follow the state rules at every step.
func TestJSClientCallbackCompletes(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs, fx.ORS.RoutingMs, fx.ORS.ProcessingMs = 700, 700, 700
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]

	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{
		"serviceName": "Callback_Sales", "phoneNumber": "+14155550123",
		"userData":    map[string]any{"orderId": "A-1001", "vip": true},
		"cbOfferType": jsOfferType, "language": "en-US",
	})
	if code != 200 {
		t.Fatalf("create: %d %v", code, resp)
	}
	st := resp["status"].(map[string]any)
	if st["code"].(float64) != 0 || st["message"] != "Successful" || !uuidRE.MatchString(st["corrId"].(string)) {
		t.Fatalf("status: %v", st)
	}
	id := resp["data"].(map[string]any)["id"].(string)
	if !uuidRE.MatchString(id) {
		t.Fatalf("id %q is not a UUID", id)
	}

	// The entry reaches the Voice stream with the record and the user data.
	var e entry
	eventually(t, 5*time.Second, "stream entry", func() bool {
		es := entriesFor(streamEntries(t, s), id)
		if len(es) > 0 {
			e = es[0]
		}
		return len(es) > 0
	})
	if e.Fields["type"] != "callback.start" || e.Fields["ccid"] != demoCCID(s) || e.Attempt != "1" {
		t.Fatalf("entry fields: %v", e.Fields)
	}
	var payload struct {
		ServiceName string            `json:"serviceName"`
		Params      map[string]string `json:"params"`
		UserData    map[string]any    `json:"userData"`
	}
	decode(t, []byte(e.Fields["payload"].(string)), &payload)
	if payload.ServiceName != "Callback_Sales" || payload.Params["_customer_number"] != "+14155550123" ||
		payload.Params["_route_point"] != "8999" || payload.UserData["orderId"] != "A-1001" {
		t.Fatalf("payload: %+v", payload)
	}

	seen := map[string]bool{}
	var final map[string]any
	eventually(t, 15*time.Second, "COMPLETED", func() bool {
		code, d := retrieve(t, n, demoKey, id)
		if code != 200 {
			t.Fatalf("retrieve: %d %v", code, d)
		}
		stt := d["callbackState"].(string)
		seen[stt] = true
		_, hasPos := d["positionInQueue"]
		_, hasEWT := d["estimatedWaitTime"]
		_, hasReason := d["callbackReason"]
		inQueue := stt == "QUEUED" || stt == "ROUTING" || stt == "PROCESSING"
		if hasPos != inQueue || hasEWT != inQueue {
			t.Fatalf("state %s: positionInQueue/estimatedWaitTime presence wrong: %v", stt, d)
		}
		if hasReason != (stt == "COMPLETED") {
			t.Fatalf("state %s: callbackReason presence wrong: %v", stt, d)
		}
		if stt == "QUEUED" && d["positionInQueue"].(float64) < 1 {
			t.Fatalf("QUEUED without a 1-based position: %v", d)
		}
		final = d
		return stt == "COMPLETED"
	})
	for _, want := range []string{"QUEUED", "ROUTING", "PROCESSING"} {
		if !seen[want] {
			t.Errorf("never saw %s (saw %v)", want, seen)
		}
	}
	if final["callbackReason"] != "AGENT_CONNECTED" || final["phoneNumber"] != "+14155550123" {
		t.Fatalf("final: %v", final)
	}
	if dt := final["desiredTime"].(string); dt[len(dt)-1] != 'Z' {
		t.Fatalf("desiredTime %q is not UTC", dt)
	}

	// The state history is kept durably.
	code, body := n.Internal(t, "GET", "/genesys/1/service/callback?_id="+id, demoCCID(s), nil)
	var recs []map[string]string
	decode(t, body, &recs)
	if code != 200 || len(recs) != 1 || recs[0]["_callback_state"] != "COMPLETED" || recs[0]["orderId"] != "A-1001" {
		t.Fatalf("GMS query by id: %d %s", code, body)
	}
}

// A scheduled callback is handed off at its time: not before, and within a
// second after.
func TestScheduledHandedOffOnTime(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	desired := time.Now().Add(4 * time.Second).Truncate(time.Millisecond)
	id := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550001",
		"desiredTime": wireTime(desired), "cbOfferType": jsOfferType, "language": "en-US"})
	if st := state(t, n, id); st != "SCHEDULED" {
		t.Fatalf("state %s", st)
	}
	time.Sleep(time.Until(desired.Add(-500 * time.Millisecond)))
	if es := entriesFor(streamEntries(t, s), id); len(es) != 0 {
		t.Fatalf("handed off early: %v", es)
	}
	var es []entry
	eventually(t, 5*time.Second, "hand-off", func() bool {
		es = entriesFor(streamEntries(t, s), id)
		return len(es) > 0
	})
	at := time.UnixMilli(es[0].StreamMS)
	if at.Before(desired) || at.After(desired.Add(time.Second)) {
		t.Fatalf("handed off at %s, desired %s", at.Format(time.RFC3339Nano), desired.Format(time.RFC3339Nano))
	}
	var p struct {
		IdealTime int64 `json:"idealtime"`
	}
	_ = json.Unmarshal([]byte(es[0].Fields["payload"].(string)), &p)
	t.Logf("handed off %s after the desired time", at.Sub(desired))
}
