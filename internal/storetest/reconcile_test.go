package storetest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/redisstore"
)

// commandCounter counts the commands a client sends (a pipeline counts
// each of its commands).
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

const recInterval = 30 * time.Second

// step moves the clock one reconcile interval on and runs that pass; it
// returns the drift found and the Redis commands the pass sent.
func (e *env) step(c *commandCounter) (map[string]int, int64) {
	e.t.Helper()
	e.clk.Advance(recInterval)
	e.mu.Lock()
	clear(e.drift)
	clear(e.repaired)
	e.mu.Unlock()
	before := c.n.Load()
	rep, err := e.rec.Step(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if rep.Drift != rep.Repaired {
		e.t.Fatalf("pass found %v but repaired %v", e.drift, e.repaired)
	}
	return maps(e.drift), c.n.Load() - before
}

// loseRecord removes a live record from Redis with its timer and counters,
// as a loss of that one key would.
func (e *env) loseRecord(cb *callback.Callback) {
	e.t.Helper()
	slot := "slot:" + strconv.Quote(svcName) + ":" + strconv.FormatInt(cb.SlotStart, 10)
	for _, err := range []error{e.rdb.Del(e.ctx, key("cb:"+cb.ID)).Err(), e.rdb.ZRem(e.ctx, key("due"), cb.ID).Err(),
		e.rdb.HIncrBy(e.ctx, key("act"), strconv.Quote(svcName)+cb.Phone, -1).Err(), e.rdb.Decr(e.ctx, key(slot)).Err()} {
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestReconcilerQuietPasses: once the passes have looked at what changed
// and the first sweep is done, a pass where nothing changed sends Redis
// one command (the pending index), whatever the records. The next sweep
// comes FullCycle after the last one started, and finds what only a sweep
// shows: a record Redis lost.
func TestReconcilerQuietPasses(t *testing.T) {
	e := newEnv(t, options{})
	const cycle = 10 * time.Minute
	e.rec.Interval, e.rec.FullCycle = recInterval, cycle
	c := &commandCounter{}
	e.rdb.AddHook(c)
	var cbs []*callback.Callback
	for i := range 3 {
		cbs = append(cbs, e.create("+"+strconv.Itoa(i+1), e.slot(3+i).Add(time.Minute), ""))
	}
	firstSweep := e.clk.Now().Add(recInterval)
	for range 6 { // the creates' changes and pending notes, the first sweep
		if d, _ := e.step(c); len(d) != 0 {
			t.Fatalf("drift in a healthy store: %v", d)
		}
	}
	e.loseRecord(cbs[0])
	for i := 0; ; i++ {
		d, n := e.step(c)
		if len(d) > 0 {
			sameDrift(t, d, map[string]int{"missing": 1})
			t.Logf("found by the sweep %s after the first one", e.clk.Now().Sub(firstSweep))
			if e.clk.Now().Sub(firstSweep) < cycle {
				t.Fatalf("found by a sweep %s after the first one", e.clk.Now().Sub(firstSweep))
			}
			break
		}
		if e.clk.Now().Sub(firstSweep) < cycle && n != 1 {
			t.Fatalf("a quiet pass sent %d commands", n)
		}
		if i > int(cycle/recInterval)+4 {
			t.Fatal("the next sweep did not find the lost record")
		}
	}
	eq(t, "restored timer", e.score("due", cbs[0].ID), cbs[0].Desired.UnixMilli())
	eq(t, "restored count", e.active(cbs[0].Phone), 1)
}

// TestReconcilerPendingIndexAndUrgentSweep: a node dies after an
// admission and after a change it took in Redis without writing Postgres.
// The pending index names the tenant once the admission's deadline passed,
// without a sweep; that drift makes the next pass past the grace sweep
// everything, which finds the change Redis is ahead with.
func TestReconcilerPendingIndexAndUrgentSweep(t *testing.T) {
	e := newEnv(t, options{})
	e.rec.Interval, e.rec.FullCycle = recInterval, 24*time.Hour
	c := &commandCounter{}
	e.rdb.AddHook(c)
	start := e.slot(3)
	kept := e.create("+1", start.Add(time.Minute), "")
	for range 6 {
		if d, _ := e.step(c); len(d) != 0 {
			t.Fatalf("drift in a healthy store: %v", d)
		}
	}
	if _, n := e.step(c); n != 1 {
		t.Fatalf("a quiet pass sent %d commands", n)
	}

	now := e.clk.Now()
	desired := start.Add(2 * time.Minute)
	orphan := &callback.Callback{ID: newID(), Tenant: tenant, Service: svcName, Phone: "+2", State: callback.Scheduled,
		Desired: desired, Scheduled: true, Created: now, Updated: now, Expires: desired.Add(4 * time.Hour), EWT: -1,
		SlotStart: start.UnixMilli(), Rev: 1, Props: map[string]string{}}
	if err := (redisstore.Admitting{Store: e.hot}).Admit(e.ctx, orphan, callback.Admission{MaxPerNumber: 1, SlotTotal: capacity}); err != nil {
		t.Fatal(err)
	}
	next := kept.Clone()
	callback.Complete(next, callback.ReasonCancelled)
	next.Rev, next.Updated = 2, now
	if err := e.hot.Commit(e.ctx, kept, next, time.Time{}, callback.SlotMove{Release: true}); err != nil {
		t.Fatal(err)
	}

	d, _ := e.step(c)
	sameDrift(t, d, map[string]int{"pending_orphan": 1})
	eq(t, "orphan's number", e.active("+2"), 0)
	eq(t, "places (the cancel Redis took gave one back)", e.used(start), 0)
	d, _ = e.step(c)
	sameDrift(t, d, map[string]int{"redis_ahead": 1})
	eq(t, "redis back to postgres", e.hotGet(kept.ID).Rev, int64(1))
	eq(t, "slot used", e.used(start), 1)
	for range 3 {
		if d, n := e.step(c); len(d) != 0 || n != 1 {
			t.Fatalf("after the repairs: drift %v, %d commands", d, n)
		}
	}
}
