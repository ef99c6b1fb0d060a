package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/redisstore"
)

// TestPendingIndexAndSizes runs the pending index, the monitor sizes and
// the settings feed on a single server and on a cluster.
func TestPendingIndexAndSizes(t *testing.T) {
	cases := []struct {
		name string
		fn   func(*env)
	}{
		{"AdmittingNotesTheTenant", testAdmittingNotes},
		{"ReindexPending", testReindexPending},
		{"Sizes", testSizes},
		{"SettingsFeed", testSettingsFeed},
	}
	for _, start := range []func(*testing.T) topology{startSingle, startCluster} {
		tp := start(t)
		t.Run(tp.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(newEnv(t, tp)) })
			}
		})
	}
}

func (e *env) pendIndexScore(tenant string) int64 {
	e.t.Helper()
	s, err := e.rdb.ZScore(e.ctx, "ges:pend-idx", tenant).Result()
	if errors.Is(err, redis.Nil) {
		return -1
	}
	if err != nil {
		fatal(e.t, err)
	}
	return int64(s)
}

func (e *env) pendingTenants(now time.Time) []string {
	e.t.Helper()
	got, err := e.store.PendingTenants(e.ctx, now, 100)
	if err != nil {
		fatal(e.t, err)
	}
	return got
}

// An admission through Admitting notes its tenant at its deadline; a later
// one keeps the earlier note; a refused one notes nothing.
func testAdmittingNotes(e *env) {
	a := redisstore.Admitting{Store: e.store}
	t0 := e.clk.Now()
	first := e.newCB("+1", 0)
	if err := a.Admit(e.ctx, first, callback.Admission{}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "noted at the deadline", e.pendIndexScore(e.tenant), t0.Add(redisstore.PendingGrace).UnixMilli())
	e.clk.Advance(5 * time.Second)
	if err := a.Admit(e.ctx, e.newCB("+2", 0), callback.Admission{}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "the earlier note stays", e.pendIndexScore(e.tenant), t0.Add(redisstore.PendingGrace).UnixMilli())
	other := e.newCB("+3", 0)
	other.Tenant = e.tenant + "-other"
	err := a.Admit(e.ctx, other, callback.Admission{MaxPerNumber: 1})
	if err != nil {
		fatal(e.t, err)
	}
	again := e.newCB("+3", 0)
	again.Tenant = other.Tenant
	if err := a.Admit(e.ctx, again, callback.Admission{MaxPerNumber: 1}); callback.KindOf(err) != callback.KindThrottled {
		e.t.Fatalf("second admission of a number: %v", err)
	}
	eq(e.t, "other tenant noted once", e.pendIndexScore(other.Tenant), t0.Add(5*time.Second+redisstore.PendingGrace).UnixMilli())
	eq(e.t, "before the deadline", len(e.pendingTenants(t0.Add(redisstore.PendingGrace-time.Millisecond))), 0)
	eq(e.t, "at the deadline", slices.Equal(e.pendingTenants(t0.Add(redisstore.PendingGrace)), []string{e.tenant}), true)
}

// ReindexPending moves the note to the earliest admission still pending,
// and removes it when none is.
func testReindexPending(e *env) {
	t0 := e.clk.Now()
	early, late := e.newCB("+1", 0), e.newCB("+2", 0)
	e.admit(early, 0)
	e.clk.Advance(10 * time.Second)
	e.admit(late, 0)
	if err := e.store.NotePending(e.ctx, e.tenant, t0); err != nil {
		fatal(e.t, err)
	}
	if err := e.store.Activate(e.ctx, early, early.Desired); err != nil {
		fatal(e.t, err)
	}
	if err := e.store.ReindexPending(e.ctx, e.tenant); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "at the remaining admission", e.pendIndexScore(e.tenant), t0.Add(10*time.Second+redisstore.PendingGrace).UnixMilli())
	if err := e.store.Activate(e.ctx, late, late.Desired); err != nil {
		fatal(e.t, err)
	}
	if err := e.store.ReindexPending(e.ctx, e.tenant); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "nothing pending", e.pendIndexScore(e.tenant), -1)
}

// Sizes counts the timers (waiting) and the claims (in flight) of every
// tenant in the index.
func testSizes(e *env) {
	other := e.tenant + "-b"
	for i, tenant := range []string{e.tenant, other, e.tenant} {
		cb := e.newCB("+"+strconv.Itoa(i+1), 0)
		cb.Tenant = tenant
		e.create(cb, 0, e.clk.Now())
	}
	w, f, err := e.store.Sizes(e.ctx)
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "waiting", w, int64(3))
	eq(e.t, "in flight", f, int64(0))
	now := e.clk.Now()
	ids, _, err := e.store.Claim(e.ctx, e.tenant, now, now.Add(time.Minute), 1)
	if err != nil || len(ids) != 1 {
		e.t.Fatalf("claim: %v %v", ids, err)
	}
	w, f, err = e.store.Sizes(e.ctx)
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "waiting after a claim", w, int64(2))
	eq(e.t, "in flight after a claim", f, int64(1))
}

// SettingsFeed delivers what PublishSettings announces.
func testSettingsFeed(e *env) {
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	feed := e.store.SettingsFeed(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := e.store.PublishSettings(e.ctx, e.tenant); err != nil {
			fatal(e.t, err)
		}
		select {
		case got := <-feed:
			eq(e.t, "announced tenant", got, e.tenant)
			return
		case <-time.After(100 * time.Millisecond): // the subscription may not be in place yet
		}
		if time.Now().After(deadline) {
			e.t.Fatal("no announcement delivered")
		}
	}
}
