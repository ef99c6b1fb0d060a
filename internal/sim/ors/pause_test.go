package ors_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/sim/ors"
)

func patch(t *testing.T, h *harness, body string) {
	t.Helper()
	if _, err := h.svc.Behaviour().Patch(strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}

func TestPausedConsumerHoldsEntriesUntilResumed(t *testing.T) {
	h := start(t, fastORS(), ors.Options{})
	patch(t, h, `{"paused":true}`)
	if !h.svc.Behaviour().Get().Paused {
		t.Fatal("config does not show the pause")
	}
	id := h.add(t, "cb-paused")
	// Several read periods (100 ms each in this harness) pass without the
	// entry being read or reported.
	time.Sleep(300 * time.Millisecond)
	if n := len(h.svc.Ledger().Records(0)); n != 0 || len(h.ges.Reports()) != 0 {
		t.Fatalf("paused consumer consumed %d entries and sent %d reports", n, len(h.ges.Reports()))
	}
	patch(t, h, `{"paused":false}`)
	if rec := h.outcome(t, id); rec.Outcome != "completed:AGENT_CONNECTED" {
		t.Fatalf("after resume: %+v", rec)
	}
}

func TestPauseHoldsReportsOfLiveSessions(t *testing.T) {
	cfg := fastORS()
	cfg.QueuedMs = 1000
	h := start(t, cfg, ors.Options{})
	id := h.add(t, "cb-live")
	h.ges.WaitReports(t, 1, 10*time.Second) // QUEUED sent, now in the queued phase
	patch(t, h, `{"paused":true}`)
	time.Sleep(1200 * time.Millisecond) // past the queued phase
	if n := len(h.ges.Reports()); n != 1 {
		t.Fatalf("%d reports while paused, want the first only", n)
	}
	patch(t, h, `{"paused":false}`)
	if rec := h.outcome(t, id); rec.Outcome != "completed:AGENT_CONNECTED" || rec.EndedAt.Before(rec.StartedAt) {
		t.Fatalf("after resume: %+v", rec)
	}
}

func TestLedgerCountsOverlappingSessionsOfOneCallback(t *testing.T) {
	var l ors.Ledger
	run := func(cb string) int {
		return l.Add(ors.Record{CCID: "cc", CallbackID: cb, Outcome: ors.OutcomeRunning})
	}
	a := run("cb-1")
	b := run("cb-1") // while a is live
	run("cb-2")
	l.Finish(a, "completed:AGENT_CONNECTED")
	l.Finish(b, "aborted:409")
	run("cb-1") // after both ended
	rs := l.Records(0)
	if rs[0].Concurrent != 0 || rs[1].Concurrent != 1 || rs[2].Concurrent != 0 || rs[3].Concurrent != 0 {
		t.Fatalf("concurrent = %d %d %d %d", rs[0].Concurrent, rs[1].Concurrent, rs[2].Concurrent, rs[3].Concurrent)
	}
	if st := l.Stats(); st.DoubleSessions != 1 || st.Running != 2 {
		t.Fatalf("stats = %+v", st)
	}
	if rs[0].EndedAt.IsZero() || !rs[3].EndedAt.IsZero() {
		t.Fatalf("end times: %v %v", rs[0].EndedAt, rs[3].EndedAt)
	}
}
