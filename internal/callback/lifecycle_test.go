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

// A callback that queues ahead is looked at from QueueFrom and handed off
// its lead before its desired time: never before QueueFrom, never after
// its desired time, whatever lead its queue asks for.
func TestDueQueuedAhead(t *testing.T) {
	cb := scheduled()
	cb.QueueFrom = t0.Add(-10 * time.Minute)
	if at, _ := NextCheck(cb, policy); !at.Equal(cb.QueueFrom) {
		t.Fatalf("first look at %s, want QueueFrom", at)
	}
	lead := 65 * time.Second
	if a := DueLead(cb, t0.Add(-10*time.Minute), policy, lead); a.Kind != Wait || !a.At.Equal(t0.Add(-lead)) {
		t.Fatalf("at QueueFrom: %+v", a)
	}
	if a := DueLead(cb, t0.Add(-lead), policy, lead); a.Kind != Handoff {
		t.Fatalf("at its lead: %+v", a)
	}
	if a := DueLead(cb, t0.Add(-lead-time.Millisecond), policy, lead); a.Kind != Wait {
		t.Fatalf("just before its lead: %+v", a)
	}
	if a := DueLead(cb, t0.Add(-10*time.Minute), policy, 3*time.Hour); a.Kind != Handoff {
		t.Fatalf("a lead beyond QueueFrom hands off at QueueFrom: %+v", a)
	}
	for _, l := range []time.Duration{0, -time.Minute} {
		if at := cb.HandoffAt(l); !at.Equal(t0) {
			t.Fatalf("lead %s: hand-off at %s, want the desired time", l, at)
		}
	}
	if !cb.QueuesAhead(t0.Add(-time.Second)) || cb.QueuesAhead(t0) {
		t.Fatal("QueuesAhead")
	}
	plain := scheduled()
	if at := plain.HandoffAt(time.Hour); !at.Equal(t0) {
		t.Fatalf("a callback that does not queue ahead: %s", at)
	}
}

func TestResubmissionAndGiveUp(t *testing.T) {
	cb := scheduled()
	MarkHandedOff(cb, "1-0", t0)
	if cb.State != Queued || cb.Attempt != 1 || cb.Entry != "1-0" {
		t.Fatalf("after hand-off: %+v", cb)
	}
	if at, _ := NextCheck(cb, policy); !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("next check %s", at)
	}
	if a := Due(cb, t0.Add(time.Minute), policy); a.Kind != Unanswered {
		t.Fatalf("silent ORS: %+v", a)
	}
	// An entry ORS has not read is never doubled: the callback waits.
	if a := AfterSilence(cb, false, false, t0.Add(time.Minute), policy); a.Kind != Wait || !a.At.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("unread entry: %+v", a)
	}
	if a := AfterSilence(cb, true, true, t0.Add(time.Minute), policy); a.Kind != Wait {
		t.Fatalf("held by ORS, unanswered: %+v", a)
	}
	if a := AfterSilence(cb, true, false, t0.Add(time.Minute), policy); a.Kind != Handoff {
		t.Fatalf("read, let go, unanswered: %+v", a)
	}
	cb.Attempt = 3
	if a := AfterSilence(cb, true, false, t0.Add(time.Minute), policy); a.Kind != Fail || a.Reason != ReasonQueueing {
		t.Fatalf("after max attempts: %+v", a)
	}
	// A report stops resubmission; silence after it has a deadline too:
	// the reported wait plus the report timeout.
	if _, err := ApplyReport(cb, map[string]string{KeySession: "S", KeyEWT: "30"}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	deadline := t0.Add(time.Second + 30*time.Second + time.Minute)
	if a := Due(cb, deadline.Add(-time.Millisecond), policy); a.Kind != Wait || !a.At.Equal(deadline) {
		t.Fatalf("after report: %+v", a)
	}
	if a := Due(cb, deadline, policy); a.Kind != Probe {
		t.Fatalf("quiet after report: %+v", a)
	}
}

func TestProbedSession(t *testing.T) {
	now := t0.Add(time.Hour)
	cb := scheduled()
	MarkHandedOff(cb, "1-0", t0)
	cb.Session, cb.Reported = "S1", t0.Add(time.Second)
	if a := Probed(cb, SessionAlive, now, policy); a.Kind != Wait || !a.At.Equal(now.Add(time.Minute)) {
		t.Fatalf("alive: %+v", a)
	}
	if a := Probed(cb, SessionUnknown, now, policy); a.Kind != Wait {
		t.Fatalf("unknown: %+v", a)
	}
	if a := Probed(cb, SessionGone, now, policy); a.Kind != Handoff {
		t.Fatalf("gone while queued: %+v", a)
	}
	cb.State = Routing
	if a := Probed(cb, SessionGone, now, policy); a.Kind != Fail || a.Reason != ReasonSessionEnded {
		t.Fatalf("gone while routing: %+v", a)
	}
	// A resubmission keeps the old session aside: its late reports are
	// superseded and change nothing.
	cb.State = Queued
	MarkHandedOff(cb, "2-0", now)
	if cb.Session != "" || cb.Props[KeyPrevSession] != "S1" || cb.Attempt != 2 {
		t.Fatalf("after resubmission: %+v", cb)
	}
	if !Superseded(cb, map[string]string{KeySession: "S1", KeyState: "COMPLETED"}) {
		t.Fatal("report of the old session is not superseded")
	}
	if Superseded(cb, map[string]string{KeySession: "S2", KeyState: "QUEUED"}) {
		t.Fatal("report of the new session is superseded")
	}
}

func TestHandOffAnsweredBeforeRecorded(t *testing.T) {
	cb := scheduled()
	// ORS read the entry and reported before the hand-off was recorded.
	if _, err := ApplyReport(cb, map[string]string{KeySession: "S", KeyState: "QUEUED"}, t0.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	MarkHandedOff(cb, "1-0", t0)
	if cb.Session != "S" || cb.Props[KeyPrevSession] != "" || cb.State != Queued {
		t.Fatalf("the report of this attempt was lost: %+v", cb)
	}
	if a := Due(cb, t0.Add(time.Minute), policy); a.Kind != Wait {
		t.Fatalf("answered attempt: %+v", a)
	}
}

func TestReportsMoveForwardOnly(t *testing.T) {
	cb := scheduled()
	MarkHandedOff(cb, "1-0", t0)
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
