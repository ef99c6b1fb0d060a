package ors_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/sim/ors"
)

// An entry read by a consumer that died before acknowledging it is played
// by a live simulator once it has been idle long enough.
func TestReclaimsEntriesOfADeadConsumer(t *testing.T) {
	h := prepare(t, fastORS())
	ctx := context.Background()
	if err := h.rdb.XGroupCreateMkStream(ctx, h.cfg.StreamName, h.cfg.ConsumerGroup, "$").Err(); err != nil {
		t.Fatal(err)
	}
	id := h.add(t, "cb-orphan")
	err := h.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: h.cfg.ConsumerGroup, Consumer: "dead",
		Streams: []string{h.cfg.StreamName, ">"}, Count: 1}).Err()
	if err != nil {
		t.Fatal(err)
	}

	h.svc = h.run(t, ors.Options{ClaimEvery: 50 * time.Millisecond, ClaimIdle: 300 * time.Millisecond})
	if rec := h.outcome(t, id); rec.Outcome != "completed:AGENT_CONNECTED" {
		t.Fatalf("outcome = %q", rec.Outcome)
	}
	waitFor(t, "XACK", func() bool { return h.pending(t) == 0 })
}

// A session that runs longer than the idle limit keeps its entry: a second
// simulator must not start a duplicate session for it.
func TestLiveSessionsAreNotReclaimed(t *testing.T) {
	cfg := fastORS()
	cfg.QueuedMs = 1500
	h := prepare(t, cfg)
	opts := ors.Options{ClaimEvery: 50 * time.Millisecond, ClaimIdle: 300 * time.Millisecond,
		HeartbeatEvery: 50 * time.Millisecond}
	opts.Consumer = "first"
	h.svc = h.run(t, opts)
	id := h.add(t, "cb-long")
	h.ges.WaitReports(t, 1, 10*time.Second)

	opts.Consumer = "second"
	other := h.run(t, opts)
	if rec := h.outcome(t, id); rec.Outcome != "completed:AGENT_CONNECTED" {
		t.Fatalf("outcome = %q", rec.Outcome)
	}
	if n := other.Ledger().Stats().Consumed; n != 0 {
		t.Fatalf("second simulator consumed %d entries: %+v", n, other.Ledger().Records(0))
	}
}
