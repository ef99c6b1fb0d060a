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
	resumed := time.Now()
	patch(t, h, `{"paused":false}`)
	// The session of an entry added while paused starts only after the
	// resume, and its reports come after it.
	rec := h.outcome(t, id)
	if rec.Outcome != "completed:AGENT_CONNECTED" || rec.StartedAt.Before(resumed) {
		t.Fatalf("after resume (%s): %+v", resumed, rec)
	}
	for _, r := range h.ges.Reports() {
		if r.At.Before(resumed) {
			t.Fatalf("a report was sent while paused: %+v", r)
		}
	}
}

func TestPauseHoldsReportsOfLiveSessions(t *testing.T) {
	cfg := fastORS()
	cfg.QueuedMs = 1000
	h := start(t, cfg, ors.Options{})
	id := h.add(t, "cb-live")
	first := h.ges.WaitReports(t, 1, 10*time.Second)[0] // QUEUED sent, now in the queued phase
	patch(t, h, `{"paused":true}`)
	// Hold the pause past the end of the queued phase (1 s after the first
	// report): the next report must wait for the resume.
	for time.Since(first.At) < 1500*time.Millisecond {
		time.Sleep(50 * time.Millisecond)
	}
	resumed := time.Now()
	patch(t, h, `{"paused":false}`)
	if rec := h.outcome(t, id); rec.Outcome != "completed:AGENT_CONNECTED" || rec.EndedAt.Before(rec.StartedAt) {
		t.Fatalf("after resume: %+v", rec)
	}
	for _, r := range h.ges.Reports()[1:] {
		if r.At.Before(resumed) {
			t.Fatalf("a report was sent while paused: %+v", r)
		}
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
