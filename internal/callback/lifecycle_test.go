package callback

import (
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 15, 30, 0, 0, time.UTC)

func scheduled() *Callback {
	return &Callback{ID: "id", State: Scheduled, Desired: t0, Expires: t0.Add(24 * time.Hour), EWT: -1, Props: map[string]string{}}
}

var policy = Policy{ReportTimeout: time.Minute, MaxAttempts: 3}

func TestDueScheduled(t *testing.T) {
	cb := scheduled()
	if a := Due(cb, t0.Add(-time.Second), policy); a.Kind != Wait || !a.At.Equal(t0) {
		t.Fatalf("before: %+v", a)
	}
	if a := Due(cb, t0, policy); a.Kind != Handoff {
		t.Fatalf("at: %+v", a)
	}
	if a := Due(cb, t0.Add(25*time.Hour), policy); a.Kind != Fail || a.Reason != ReasonTimeoutTTL {
		t.Fatalf("past TTL: %+v", a)
	}
}

func TestResubmissionAndGiveUp(t *testing.T) {
	cb := scheduled()
	MarkHandedOff(cb, t0)
	if cb.State != Queued || cb.Attempt != 1 {
		t.Fatalf("after hand-off: %+v", cb)
	}
	if at, _ := NextCheck(cb, policy); !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("next check %s", at)
	}
	if a := Due(cb, t0.Add(time.Minute), policy); a.Kind != Handoff {
		t.Fatalf("silent ORS: %+v", a)
	}
	cb.Attempt = 3
	if a := Due(cb, t0.Add(time.Minute), policy); a.Kind != Fail || a.Reason != ReasonQueueing {
		t.Fatalf("after max attempts: %+v", a)
	}
	// A report stops resubmission.
	if _, err := ApplyReport(cb, map[string]string{KeySession: "S"}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if a := Due(cb, t0.Add(time.Minute), policy); a.Kind != Wait || !a.At.Equal(cb.Expires) {
		t.Fatalf("after report: %+v", a)
	}
}

func TestReportsMoveForwardOnly(t *testing.T) {
	cb := scheduled()
	MarkHandedOff(cb, t0)
	steps := []struct {
		kv   map[string]string
		want State
	}{
		{map[string]string{KeyState: "ROUTING"}, Routing},
		{map[string]string{KeyState: "QUEUED"}, Routing}, // crossed reports
		{map[string]string{KeyState: "processing"}, Processing},
		{map[string]string{KeyState: "COMPLETED", KeyReason: "AGENT_CONNECTED"}, Completed},
	}
	for _, s := range steps {
		if _, err := ApplyReport(cb, s.kv, t0); err != nil {
			t.Fatal(err)
		}
		if cb.State != s.want {
			t.Fatalf("after %v: %s", s.kv, cb.State)
		}
	}
	if cb.Reason != "AGENT_CONNECTED" {
		t.Fatalf("reason %q", cb.Reason)
	}
	if _, err := ApplyReport(cb, map[string]string{KeyState: "QUEUED"}, t0); KindOf(err) != KindConflict {
		t.Fatalf("change after completion: %v", err)
	}
	if _, err := ApplyReport(cb, map[string]string{KeyState: "BOGUS"}, t0); KindOf(err) != KindInvalid {
		t.Fatalf("bad state: %v", err)
	}
}

func TestCancelRulesByState(t *testing.T) {
	for _, c := range []struct {
		st      State
		strict  bool
		changed bool
		kind    Kind
	}{
		{Scheduled, true, true, 0}, {Queued, true, true, 0}, {Routing, false, true, 0},
		{Processing, true, false, KindConflict}, {Processing, false, false, KindConflict},
		{Completed, true, false, KindConflict}, {Completed, false, false, 0},
	} {
		cb := scheduled()
		cb.State = c.st
		changed, err := Cancel(cb, ReasonCancelled, c.strict)
		if changed != c.changed || KindOf(err) != c.kind {
			t.Errorf("%s strict=%v: changed=%v err=%v", c.st, c.strict, changed, err)
		}
	}
}

func TestRescheduleAndUserDataKeys(t *testing.T) {
	cb := scheduled()
	cb.UserData = []byte(`{"a":"1","b":2}`)
	later := t0.Add(2 * time.Hour)
	re, err := ApplyReport(cb, map[string]string{KeyNewDesiredTime: "2030-01-02T17:30:00.000Z", "a": "", "b": "3", "_x": "y"}, t0)
	if err != nil || !re || !cb.Desired.Equal(later) || !cb.Expires.Equal(later.Add(24*time.Hour)) {
		t.Fatalf("reschedule: %v %v %+v", re, err, cb)
	}
	if string(cb.UserData) != `{"b":"3"}` || cb.Props["_x"] != "y" {
		t.Fatalf("keys: %s %v", cb.UserData, cb.Props)
	}
	cb.State = Processing
	if _, err := ApplyReport(cb, map[string]string{KeyNewDesiredTime: "2030-01-03T00:00:00Z"}, t0); KindOf(err) != KindConflict {
		t.Fatalf("reschedule in PROCESSING: %v", err)
	}
}

func TestQueryMatch(t *testing.T) {
	cb := scheduled()
	cb.Phone, cb.Service = "+1", "S"
	for _, c := range []struct {
		q    Query
		want bool
	}{
		{Query{Filters: []Filter{ParseFilter(KeyCustomerNumber, "+1")}}, true},
		{Query{Filters: []Filter{ParseFilter(KeyState, "!COMPLETED")}}, true},
		{Query{Filters: []Filter{ParseFilter(KeyState, "!SCHEDULED")}}, false},
		{Query{Or: true, Filters: []Filter{ParseFilter(KeyCustomerNumber, "+2"), ParseFilter(KeyState, "SCHEDULED")}}, true},
		{Query{Filters: []Filter{ParseFilter(KeyCustomerNumber, "+2"), ParseFilter(KeyState, "SCHEDULED")}}, false},
		{Query{Service: "T"}, false},
	} {
		if got := c.q.Match(cb); got != c.want {
			t.Errorf("%+v: %v", c.q, got)
		}
	}
}
