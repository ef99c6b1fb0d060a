package e2e

import (
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

func TestCancelRules(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	cancel := func(key, id string) (int, map[string]any) {
		return n.External(t, "POST", "/engagement/v3/callbacks/cancel", key, map[string]string{"id": id})
	}
	id := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550002",
		"desiredTime": wireTime(time.Now().Add(time.Hour))})

	// Another tenant cannot see or cancel it.
	if code, _ := retrieve(t, n, otherKey, id); code != 404 {
		t.Fatalf("other tenant retrieve: %d", code)
	}
	if code, _ := cancel(otherKey, id); code != 404 {
		t.Fatalf("other tenant cancel: %d", code)
	}

	code, resp := cancel(demoKey, id)
	if code != 200 || resp["data"].(map[string]any)["id"] != id {
		t.Fatalf("cancel: %d %v", code, resp)
	}
	_, d := retrieve(t, n, demoKey, id)
	if d["callbackState"] != "COMPLETED" || d["callbackReason"] != "CANCELLED" {
		t.Fatalf("after cancel: %v", d)
	}
	if code, resp := cancel(demoKey, id); code != 400 || resp["status"].(map[string]any)["code"].(float64) != 400 {
		t.Fatalf("second cancel: %d %v", code, resp)
	}
	unknown := "00000000-0000-4000-8000-000000000000"
	if code, resp := cancel(demoKey, unknown); code != 404 || resp["status"].(map[string]any)["message"] != "Callback not found" {
		t.Fatalf("unknown cancel: %d %v", code, resp)
	}
	if code, _ := retrieve(t, n, demoKey, unknown); code != 404 {
		t.Fatalf("unknown retrieve: %d", code)
	}
	if code, _ := cancel(demoKey, "not-a-uuid"); code != 400 {
		t.Fatalf("malformed id: %d", code)
	}
	if code, _ := n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]any{}); code != 400 {
		t.Fatalf("missing id: %d", code)
	}
	// The cancelled callback is never handed off.
	if es := entriesFor(streamEntries(t, s), id); len(es) != 0 {
		t.Fatalf("cancelled callback on the stream: %v", es)
	}

	// In PROCESSING a callback cannot be cancelled.
	simConfig(t, s, map[string]any{"queuedMs": 100, "routingMs": 100, "processingMs": 8000})
	busy := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550003"})
	eventually(t, 10*time.Second, "PROCESSING", func() bool { return state(t, n, busy) == "PROCESSING" })
	code, resp = cancel(demoKey, busy)
	if code != 400 {
		t.Fatalf("cancel in PROCESSING: %d %v", code, resp)
	}
	if st := state(t, n, busy); st != "PROCESSING" {
		t.Fatalf("state after refused cancel: %s", st)
	}
}
