package redisstore_test

// The scripts of the hot store, each driven through its Go method on a real
// redis-server and on a real three-master Redis Cluster: the state every
// script leaves (record, timers, leases, counters, expiries) is read back
// with plain commands, so the tests pin what the monitor and the
// reconciler rely on. Time is a manual clock; nothing sleeps.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/fault"
	"github.com/gesgo/ges/internal/ids"
	"github.com/gesgo/ges/internal/record"
	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// manualClock is the store's clock: tests move it past deadlines instead
// of waiting for them. It starts at the real time, because Redis expires
// keys (slot counters, rate windows) at absolute times on its own clock.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *manualClock {
	return &manualClock{now: time.Now().UTC().Truncate(time.Millisecond)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// topology is one Redis deployment the scripts must work on.
type topology struct {
	name string
	rdb  redis.UniversalClient
}

func startSingle(t *testing.T) topology {
	r := testenv.StartRedis(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{r.Addr}})
	t.Cleanup(func() { rdb.Close() })
	return topology{name: "single", rdb: rdb}
}

func startCluster(t *testing.T) topology {
	nodes := testenv.StartRedisCluster(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{nodes[0].Addr}, IsClusterMode: true})
	t.Cleanup(func() { rdb.Close() })
	testenv.WaitClusterWritable(t, rdb)
	return topology{name: "cluster", rdb: rdb}
}

// forEachMaster runs fn on the server, or on each master of a cluster, one
// at a time so that fn may collect without locking.
func forEachMaster(ctx context.Context, rdb redis.UniversalClient, fn func(*redis.Client) error) error {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		return c.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return fn(n)
		})
	}
	return fn(rdb.(*redis.Client))
}

// env is one test's view of the store: a fresh tenant on a flushed server.
type env struct {
	t      *testing.T
	ctx    context.Context
	rdb    redis.UniversalClient
	store  *redisstore.Store
	clk    *manualClock
	tenant string
}

func newEnv(t *testing.T, tp topology) *env {
	ctx := context.Background()
	if err := forEachMaster(ctx, tp.rdb, func(c *redis.Client) error { return c.FlushAll(ctx).Err() }); err != nil {
		fatal(t, err)
	}
	clk := newClock()
	return &env{t: t, ctx: ctx, rdb: tp.rdb, store: redisstore.New(tp.rdb, clk), clk: clk, tenant: "cc-" + ids.New()[:8]}
}

// The key layout is part of the contract (one hash tag per tenant), so the
// tests spell it out rather than borrow it from the package.
func (e *env) key(tenant, rest string) string { return "ges:{" + tenant + "}:" + rest }
func (e *env) recKey(id string) string        { return e.key(e.tenant, "cb:"+id) }
func (e *env) slotKey(service string, start int64) string {
	return e.key(e.tenant, "slot:"+strconv.Quote(service)+":"+strconv.FormatInt(start, 10))
}

const svc = "svc"

// slotStart is the start (unix ms) of a capacity slot h hours ahead.
func (e *env) slotStart(h int) int64 {
	return e.clk.Now().Add(time.Duration(h) * time.Hour).Truncate(15 * time.Minute).UnixMilli()
}

// newCB is a fresh record; slot 0 books an immediate callback.
func (e *env) newCB(phone string, slot int64) *callback.Callback {
	now := e.clk.Now()
	cb := &callback.Callback{ID: ids.New(), Tenant: e.tenant, Service: svc, Phone: phone, State: callback.Scheduled,
		Created: now, Updated: now, Desired: now, Expires: now.Add(time.Hour), EWT: -1, Rev: 1,
		Props: map[string]string{"k": "v"}, UserData: []byte(`{"order":"42"}`)}
	if slot > 0 {
		cb.SlotStart, cb.Scheduled = slot, true
		cb.Desired = time.UnixMilli(slot + 60_000).UTC()
		cb.Expires = cb.Desired.Add(time.Hour)
	}
	return cb
}

// admit admits cb (no limits but its slot's capacity) and fails the test
// on a refusal.
func (e *env) admit(cb *callback.Callback, slotTotal int) {
	e.t.Helper()
	if err := e.store.Admit(e.ctx, cb, callback.Admission{SlotTotal: slotTotal}); err != nil {
		e.t.Fatalf("admit %s: %v (%v)", cb.Phone, err, errors.Unwrap(err))
	}
}

// create admits and activates cb, as a create whose Postgres commit went
// through.
func (e *env) create(cb *callback.Callback, slotTotal int, due time.Time) {
	e.t.Helper()
	e.admit(cb, slotTotal)
	if err := e.store.Activate(e.ctx, cb, due); err != nil {
		fatal(e.t, err)
	}
}

func (e *env) get(key string) (string, bool) {
	e.t.Helper()
	v, err := e.rdb.Get(e.ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false
	}
	if err != nil {
		fatal(e.t, err)
	}
	return v, true
}

func (e *env) exists(key string) bool {
	e.t.Helper()
	n, err := e.rdb.Exists(e.ctx, key).Result()
	if err != nil {
		fatal(e.t, err)
	}
	return n == 1
}

// score is the member's score in a tenant's sorted set ("due", "lease",
// "pend"), or -1 when absent.
func (e *env) score(set, id string) int64 {
	e.t.Helper()
	s, err := e.rdb.ZScore(e.ctx, e.key(e.tenant, set), id).Result()
	if errors.Is(err, redis.Nil) {
		return -1
	}
	if err != nil {
		fatal(e.t, err)
	}
	return int64(s)
}

func (e *env) card(set string) int64 {
	e.t.Helper()
	n, err := e.rdb.ZCard(e.ctx, e.key(e.tenant, set)).Result()
	if err != nil {
		fatal(e.t, err)
	}
	return n
}

// active is the per-number count of non-final callbacks, -1 when the hash
// has no field for the number.
func (e *env) active(service, phone string) int {
	e.t.Helper()
	return e.count(strconv.Quote(service) + phone)
}

// count is a field of the tenant's count hash, -1 when absent.
func (e *env) count(field string) int {
	e.t.Helper()
	v, err := e.rdb.HGet(e.ctx, e.key(e.tenant, "act"), field).Result()
	if errors.Is(err, redis.Nil) {
		return -1
	}
	if err != nil {
		fatal(e.t, err)
	}
	n, _ := strconv.Atoi(v)
	return n
}

func (e *env) used(start int64) int {
	e.t.Helper()
	v, ok := e.get(e.slotKey(svc, start))
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return n
}

func (e *env) indexScore(tenant string) int64 {
	e.t.Helper()
	s, err := e.rdb.ZScore(e.ctx, "ges:idx", tenant).Result()
	if errors.Is(err, redis.Nil) {
		return -1
	}
	if err != nil {
		fatal(e.t, err)
	}
	return int64(s)
}

func (e *env) expireTime(key string) int64 {
	e.t.Helper()
	ms, err := e.rdb.PExpireTime(e.ctx, key).Result()
	if err != nil {
		fatal(e.t, err)
	}
	return ms.Milliseconds()
}

func (e *env) ttl(key string) time.Duration {
	e.t.Helper()
	d, err := e.rdb.TTL(e.ctx, key).Result()
	if err != nil {
		fatal(e.t, err)
	}
	return d
}

// wantRecord checks that Redis holds exactly cb.
func (e *env) wantRecord(cb *callback.Callback) {
	e.t.Helper()
	v, ok := e.get(e.recKey(cb.ID))
	if !ok {
		e.t.Fatalf("record %s is missing", cb.ID)
	}
	if want := record.Value(cb, 0); v != want {
		e.t.Fatalf("record %s:\n got %s\nwant %s", cb.ID, v, want)
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func kindOf(t *testing.T, err error, want callback.Kind) *callback.Error {
	t.Helper()
	var de *callback.Error
	if !errors.As(err, &de) || de.Kind != want {
		t.Fatalf("error %v (%T), want kind %d", err, err, want)
	}
	return de
}

// TestStore runs every script case on a single server and on a cluster.
// Cases share the servers (flushed before each), as starting a cluster
// per case would cost more than the cases.
func TestStore(t *testing.T) {
	cases := []struct {
		name string
		fn   func(*env)
	}{
		{"AdmitHoldsReservationsPending", testAdmit},
		{"AdmitRefusalsLeaveNothing", testAdmitRefusals},
		{"AdmitRateWindows", testAdmitRate},
		{"AdmitConcurrentCapacity", testAdmitConcurrent},
		{"AdmitSharedRoundTrips", testAdmitShared},
		{"ActivateOnlyPending", testActivate},
		{"ForgetGivesBackAndTombstones", testForget},
		{"CommitCompareAndSet", testCommitCAS},
		{"CommitFinal", testCommitFinal},
		{"CommitRecords", testCommitRecords},
		{"CommitMovesCapacity", testCommitCapacity},
		{"CommitUndo", testCommitUndo},
		{"CommitMovesActiveCount", testCommitPhone},
		{"QueueCountFollowsEveryPath", testQueueCount},
		{"AdmitDailyPerNumber", testAdmitDaily},
		{"Restore", testRestore},
		{"RestoreMany", testRestoreMany},
		{"RestoreManyAfterScriptFlush", testRestoreManyNoScript},
		{"RestoreManyLarge", testRestoreManyLarge},
		{"ClaimAndRelease", testClaim},
		{"ClaimExpiredLeasesFirst", testClaimExpired},
		{"Release", testRelease},
		{"PendingExpired", testPendingExpired},
		{"TimerPage", testTimerPage},
		{"LeaseReconcile", testLeaseReconcile},
		{"SlotsUsed", testSlotsUsed},
		{"Wipe", testWipe},
		{"Hydrated", testHydrated},
		{"TenantKeysShareOneSlot", testOneSlot},
		{"TimersComeBack", testTimersComeBack},
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

func testAdmit(e *env) {
	now := e.clk.Now()
	slot := e.slotStart(2)
	cb := e.newCB("+100", slot)
	win := 5 * time.Minute
	a := callback.Admission{MaxPerNumber: 3, SlotTotal: 5, Throttles: []callback.Throttle{{Limit: 10, Window: win}}}
	if err := e.store.Admit(e.ctx, cb, a); err != nil {
		fatal(e.t, err)
	}
	e.wantRecord(cb)
	// Pending with its deadline, not due: it is dialled only once durable.
	eq(e.t, "pending deadline", e.score("pend", cb.ID), now.Add(redisstore.PendingGrace).UnixMilli())
	eq(e.t, "due", e.score("due", cb.ID), -1)
	eq(e.t, "active", e.active(svc, "+100"), 1)
	eq(e.t, "slot used", e.used(slot), 1)
	eq(e.t, "slot key expiry", e.expireTime(e.slotKey(svc, slot)), slot+(48*time.Hour).Milliseconds())
	index := now.UnixMilli() / win.Milliseconds()
	rk := e.key(e.tenant, "rate1:"+strconv.Quote(svc)+":300:"+strconv.FormatInt(index, 10))
	v, _ := e.get(rk)
	eq(e.t, "rate window count", v, "1")
	eq(e.t, "rate window expiry", e.expireTime(rk), (index+1)*win.Milliseconds())

	got, err := e.store.Get(e.ctx, e.tenant, cb.ID)
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "read back", record.Value(got, 0), record.Value(cb, 0))

	// The same id again: refused, nothing counted twice.
	if err := e.store.Admit(e.ctx, cb, a); !errors.Is(err, callback.ErrExists) {
		e.t.Fatalf("second admit: %v, want ErrExists", err)
	}
	eq(e.t, "active after duplicate", e.active(svc, "+100"), 1)
	eq(e.t, "slot used after duplicate", e.used(slot), 1)

	// An immediate callback takes no slot place.
	imm := e.newCB("+101", 0)
	if err := e.store.Admit(e.ctx, imm, callback.Admission{}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "slot 0 key", e.exists(e.slotKey(svc, 0)), false)
	eq(e.t, "active immediate", e.active(svc, "+101"), 1)
}

func testAdmitRefusals(e *env) {
	slot := e.slotStart(2)
	// Per-number limit: the third callback of a number is refused.
	lim := callback.Admission{MaxPerNumber: 2, SlotTotal: 10}
	for range 2 {
		if err := e.store.Admit(e.ctx, e.newCB("+200", slot), lim); err != nil {
			fatal(e.t, err)
		}
	}
	third := e.newCB("+200", slot)
	de := kindOf(e.t, e.store.Admit(e.ctx, third, lim), callback.KindThrottled)
	eq(e.t, "limit", de.Limit, fault.PerNumber)
	eq(e.t, "refused record", e.exists(e.recKey(third.ID)), false)
	eq(e.t, "refused pending", e.score("pend", third.ID), -1)
	eq(e.t, "active", e.active(svc, "+200"), 2)
	eq(e.t, "slot used", e.used(slot), 2)

	// Full slot: refused without touching the rate windows.
	full := e.slotStart(3)
	a := callback.Admission{SlotTotal: 1, Throttles: []callback.Throttle{{Limit: 2, Window: time.Minute}}}
	if err := e.store.Admit(e.ctx, e.newCB("+201", full), a); err != nil {
		fatal(e.t, err)
	}
	over := e.newCB("+202", full)
	kindOf(e.t, e.store.Admit(e.ctx, over, a), callback.KindNoCapacity)
	eq(e.t, "refused record", e.exists(e.recKey(over.ID)), false)
	eq(e.t, "active of refused", e.active(svc, "+202"), -1)
	eq(e.t, "full slot used", e.used(full), 1)
	// The rate window still has its second place: the refusal took none.
	if err := e.store.Admit(e.ctx, e.newCB("+203", 0), a); err != nil {
		e.t.Fatalf("rate place after a FULL refusal: %v", err)
	}
}

func testAdmitRate(e *env) {
	now := e.clk.Now()
	for n, a := range []callback.Admission{
		{Throttles: []callback.Throttle{{Limit: 1, Window: time.Minute}}},
		{Throttles: []callback.Throttle{{}, {Limit: 1, Window: time.Hour}}},
	} {
		e.tenant = "cc-rate" + strconv.Itoa(n) + "-" + ids.New()[:8]
		if err := e.store.Admit(e.ctx, e.newCB("+300", 0), a); err != nil {
			fatal(e.t, err)
		}
		over := e.newCB("+301", 0)
		de := kindOf(e.t, e.store.Admit(e.ctx, over, a), callback.KindThrottled)
		eq(e.t, "limit", de.Limit, fault.Rate)
		w := a.Throttles[n].Window
		end := time.UnixMilli((now.UnixMilli()/w.Milliseconds() + 1) * w.Milliseconds())
		eq(e.t, "retry after", de.RetryAfter, end.Sub(now))
		eq(e.t, "refused record", e.exists(e.recKey(over.ID)), false)
		eq(e.t, "active of refused", e.active(svc, "+301"), -1)
	}
}

// testAdmitConcurrent is the admission promise: 50 concurrent creates into
// a slot of capacity 10 admit exactly 10.
func testAdmitConcurrent(e *env) {
	slot := e.slotStart(4)
	ok, full := e.concurrently(50, func(i int) error {
		return e.store.Admit(e.ctx, e.newCB("+4"+strconv.Itoa(i), slot), callback.Admission{SlotTotal: 10})
	})
	eq(e.t, "admitted", ok, 10)
	eq(e.t, "refused", full, 40)
	eq(e.t, "slot used", e.used(slot), 10)
	eq(e.t, "pending", e.card("pend"), 10)
}

// concurrently runs n calls of f at once and counts their successes and
// their refusals for want of capacity; any other error fails the test.
func (e *env) concurrently(n int, f func(i int) error) (ok, full int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var other []error
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case callback.KindOf(err) == callback.KindNoCapacity:
				full++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if len(other) > 0 {
		e.t.Fatal(other)
	}
	return ok, full
}

// testAdmitShared: concurrent admissions and activations share round
// trips, and each keeps its own outcome, also when Redis lost the scripts
// in between (a call is sent again only if its script did not run: an
// admission sent twice would refuse itself as EXISTS).
func testAdmitShared(e *env) {
	for round := range 3 {
		if err := forEachMaster(e.ctx, e.rdb, func(c *redis.Client) error { return c.ScriptFlush(e.ctx).Err() }); err != nil {
			fatal(e.t, err)
		}
		slot := e.slotStart(4 + round)
		ok, full := e.concurrently(60, func(i int) error {
			cb := e.newCB(fmt.Sprintf("+5%d%02d", round, i), slot)
			err := e.store.Admit(e.ctx, cb, callback.Admission{SlotTotal: 10})
			if err == nil {
				err = e.store.Activate(e.ctx, cb, cb.Desired)
			}
			return err
		})
		eq(e.t, "admitted", ok, 10)
		eq(e.t, "refused", full, 50)
		eq(e.t, "slot used", e.used(slot), 10)
	}
	eq(e.t, "pending", e.card("pend"), 0)
	eq(e.t, "due", e.card("due"), 30)
}

func testActivate(e *env) {
	cb := e.newCB("+500", e.slotStart(2))
	e.admit(cb, 5)
	due := cb.Desired
	if err := e.store.Activate(e.ctx, cb, due); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "pending", e.score("pend", cb.ID), -1)
	eq(e.t, "due", e.score("due", cb.ID), due.UnixMilli())
	eq(e.t, "index", e.indexScore(e.tenant), due.UnixMilli())

	// A late or repeated activation (the reconciler got there first and
	// the monitor moved the timer since) changes nothing.
	if err := e.store.Activate(e.ctx, cb, due.Add(time.Hour)); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "due after repeat", e.score("due", cb.ID), due.UnixMilli())

	// The index only ever moves earlier.
	later := e.newCB("+501", 0)
	e.create(later, 0, due.Add(time.Hour))
	eq(e.t, "index after a later timer", e.indexScore(e.tenant), due.UnixMilli())
	earlier := e.newCB("+502", 0)
	e.create(earlier, 0, due.Add(-time.Minute))
	eq(e.t, "index after an earlier timer", e.indexScore(e.tenant), due.Add(-time.Minute).UnixMilli())

	// Activation without a timer leaves the record without one.
	none := e.newCB("+503", 0)
	e.create(none, 0, time.Time{})
	eq(e.t, "pending of timerless", e.score("pend", none.ID), -1)
	eq(e.t, "due of timerless", e.score("due", none.ID), -1)
}

func testForget(e *env) {
	slot := e.slotStart(2)
	keep := e.newCB("+600", slot)
	e.create(keep, 5, keep.Desired)
	cb := e.newCB("+600", slot)
	e.admit(cb, 5)
	eq(e.t, "active before", e.active(svc, "+600"), 2)
	eq(e.t, "used before", e.used(slot), 2)
	if err := e.store.Forget(e.ctx, cb); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "active", e.active(svc, "+600"), 1)
	eq(e.t, "used", e.used(slot), 1)
	eq(e.t, "pending", e.score("pend", cb.ID), -1)
	eq(e.t, "due", e.score("due", cb.ID), -1)
	v, _ := e.get(e.recKey(cb.ID))
	eq(e.t, "tombstone", v, "x")
	if d := e.ttl(e.recKey(cb.ID)); d <= redisstore.TombstoneKeep-time.Minute || d > redisstore.TombstoneKeep {
		e.t.Fatalf("tombstone TTL %s, want about %s", d, redisstore.TombstoneKeep)
	}
	// A tombstone is no record, and it keeps the id refused.
	if _, err := e.store.Get(e.ctx, e.tenant, cb.ID); !errors.Is(err, callback.ErrNotFound) {
		e.t.Fatalf("get of tombstone: %v", err)
	}
	if err := e.store.Admit(e.ctx, cb, callback.Admission{SlotTotal: 5}); !errors.Is(err, callback.ErrExists) {
		e.t.Fatalf("admit over tombstone: %v", err)
	}
	if put, err := e.store.Restore(e.ctx, cb, cb.Desired); err != nil || put {
		e.t.Fatalf("restore over tombstone: put=%v err=%v", put, err)
	}
	// Forgetting again (a retry, or the reconciler meeting the tombstone)
	// gives nothing back twice.
	if err := e.store.Forget(e.ctx, cb); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "active after second forget", e.active(svc, "+600"), 1)
	eq(e.t, "used after second forget", e.used(slot), 1)

	// Forgetting the last callback of a number removes its field.
	if err := e.store.Forget(e.ctx, keep); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "active field", e.active(svc, "+600"), -1)
	eq(e.t, "used", e.used(slot), 0)
	eq(e.t, "due of forgotten active", e.score("due", keep.ID), -1)
}

// change returns a copy of cb at the next revision.
func change(cb *callback.Callback, f func(*callback.Callback)) *callback.Callback {
	n := cb.Clone()
	n.Rev = cb.Rev + 1
	if f != nil {
		f(n)
	}
	return n
}

func testCommitCAS(e *env) {
	cb := e.newCB("+700", 0)
	e.create(cb, 0, cb.Desired)
	next := change(cb, func(n *callback.Callback) {
		n.Props["x"] = "1"
		n.UserData = []byte(`{"order":"43"}`)
	})
	due := cb.Desired.Add(time.Minute)
	if err := e.store.Commit(e.ctx, cb, next, due, callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	e.wantRecord(next)
	eq(e.t, "due", e.score("due", cb.ID), due.UnixMilli())
	eq(e.t, "active", e.active(svc, "+700"), 1)

	// A writer that read the old revision loses.
	other := change(cb, func(n *callback.Callback) { n.Props["x"] = "2" })
	if err := e.store.Commit(e.ctx, cb, other, due, callback.SlotMove{}); !errors.Is(err, callback.ErrConflict) {
		e.t.Fatalf("stale commit: %v, want ErrConflict", err)
	}
	e.wantRecord(next)

	missing := e.newCB("+701", 0)
	if err := e.store.Commit(e.ctx, missing, change(missing, nil), due, callback.SlotMove{}); !errors.Is(err, callback.ErrNotFound) {
		e.t.Fatalf("commit of a missing record: %v", err)
	}
	e.admit(missing, 0)
	if err := e.store.Forget(e.ctx, missing); err != nil {
		fatal(e.t, err)
	}
	if err := e.store.Commit(e.ctx, missing, change(missing, nil), due, callback.SlotMove{}); !errors.Is(err, callback.ErrNotFound) {
		e.t.Fatalf("commit over a tombstone: %v", err)
	}
	eq(e.t, "tombstone due", e.score("due", missing.ID), -1)

	// A commit leaves a claim to the monitor that holds it: the monitor
	// ends its claims when it finishes the batch.
	now := e.clk.Now()
	e.clk.Advance(2 * time.Minute)
	got, _, err := e.store.Claim(e.ctx, e.tenant, e.clk.Now(), e.clk.Now().Add(30*time.Second), 10)
	if err != nil || !slices.Contains(got, cb.ID) {
		e.t.Fatalf("claim: %v %v", got, err)
	}
	third := change(next, func(n *callback.Callback) { n.Attempt = 1 })
	if err := e.store.Commit(e.ctx, next, third, now.Add(time.Hour), callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	if e.score("lease", cb.ID) < 0 {
		e.t.Fatal("a commit ended a monitor's claim")
	}
	eq(e.t, "due after commit", e.score("due", cb.ID), now.Add(time.Hour).UnixMilli())
}

func testCommitRecords(e *env) {
	now := e.clk.Now()
	a, b, c := e.newCB("+1900", 0), e.newCB("+1901", 0), e.newCB("+1902", 0)
	for _, cb := range []*callback.Callback{a, b, c} {
		e.create(cb, 0, now)
	}
	// b moved on meanwhile; c is a refused create's tombstone.
	b2 := change(b, func(n *callback.Callback) { n.Attempt = 2 })
	if err := e.store.Commit(e.ctx, b, b2, now.Add(time.Minute), callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	if err := e.store.Forget(e.ctx, c); err != nil {
		fatal(e.t, err)
	}
	ttl := e.rdb.TTL(e.ctx, e.key(e.tenant, "cb:"+c.ID)).Val()
	errs, found, err := e.store.CommitRecords(e.ctx, e.tenant, []callback.Commit{
		{Prev: a, Next: change(a, func(n *callback.Callback) { n.Attempt = 1 }), Due: now.Add(time.Hour)},
		{Prev: b, Next: change(b, nil), Due: now.Add(time.Hour)},
		{Prev: c, Next: change(c, nil), Due: now.Add(time.Hour)},
	})
	if err != nil {
		fatal(e.t, err)
	}
	if errs[0] != nil || !errors.Is(errs[1], callback.ErrConflict) || !errors.Is(errs[2], callback.ErrNotFound) {
		e.t.Fatalf("outcomes %v", errs)
	}
	if got, _ := e.store.Get(e.ctx, e.tenant, a.ID); got.Rev != 2 || got.Attempt != 1 {
		e.t.Fatalf("a after commit: %+v", got)
	}
	eq(e.t, "due of a", e.score("due", a.ID), now.Add(time.Hour).UnixMilli())
	// The loser gets the record that won, and Redis keeps it unchanged.
	if found[1] == nil || found[1].Rev != b2.Rev || found[1].Attempt != 2 {
		e.t.Fatalf("found for b: %+v", found[1])
	}
	if got, _ := e.store.Get(e.ctx, e.tenant, b.ID); got.Attempt != 2 {
		e.t.Fatalf("b was overwritten: %+v", got)
	}
	eq(e.t, "due of b", e.score("due", b.ID), now.Add(time.Minute).UnixMilli())
	// The tombstone stays, with its expiry.
	if v, _ := e.rdb.Get(e.ctx, e.key(e.tenant, "cb:"+c.ID)).Result(); v != "x" {
		e.t.Fatalf("tombstone = %q", v)
	}
	if got := e.rdb.TTL(e.ctx, e.key(e.tenant, "cb:"+c.ID)).Val(); got <= 0 || got > ttl {
		e.t.Fatalf("tombstone ttl %s, was %s", got, ttl)
	}
	eq(e.t, "due of the tombstone", e.score("due", c.ID), -1)
	// Keep leaves the timer.
	a2, _ := e.store.Get(e.ctx, e.tenant, a.ID)
	if errs, _, err := e.store.CommitRecords(e.ctx, e.tenant, []callback.Commit{{Prev: a2, Next: change(a2, nil), Due: now.Add(2 * time.Hour), Keep: true}}); err != nil || errs[0] != nil {
		e.t.Fatal(errs, err)
	}
	eq(e.t, "kept due of a", e.score("due", a.ID), now.Add(time.Hour).UnixMilli())
}

func testCommitFinal(e *env) {
	slot := e.slotStart(2)
	cb := e.newCB("+800", slot)
	e.create(cb, 5, cb.Desired)
	done := change(cb, func(n *callback.Callback) { callback.Complete(n, callback.ReasonCancelled) })
	if err := e.store.Commit(e.ctx, cb, done, time.Time{}, callback.SlotMove{Release: true}); err != nil {
		fatal(e.t, err)
	}
	e.wantRecord(done)
	eq(e.t, "due", e.score("due", cb.ID), -1)
	eq(e.t, "active field", e.active(svc, "+800"), -1)
	eq(e.t, "used", e.used(slot), 0)
	if d := e.ttl(e.recKey(cb.ID)); d <= redisstore.FinalKeep-time.Minute || d > redisstore.FinalKeep {
		e.t.Fatalf("final record TTL %s, want about %s", d, redisstore.FinalKeep)
	}
	// A change to a completed record (a late reason) counts nothing again.
	again := change(done, func(n *callback.Callback) { n.Reason = "LATE" })
	if err := e.store.Commit(e.ctx, done, again, time.Time{}, callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "active field after a final change", e.active(svc, "+800"), -1)
	eq(e.t, "used after a final change", e.used(slot), 0)
}

func testCommitCapacity(e *env) {
	a, b := e.slotStart(2), e.slotStart(3)
	cb := e.newCB("+900", a)
	e.create(cb, 1, cb.Desired)

	// Reschedule a -> b (capacity 1): the place moves.
	moved := change(cb, func(n *callback.Callback) { n.SlotStart = b; n.Desired = time.UnixMilli(b).UTC() })
	if err := e.store.Commit(e.ctx, cb, moved, moved.Desired, callback.SlotMove{Release: true, Take: true, Total: 1}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "old slot", e.used(a), 0)
	eq(e.t, "new slot", e.used(b), 1)
	eq(e.t, "new slot expiry", e.expireTime(e.slotKey(svc, b)), b+(48*time.Hour).Milliseconds())

	// Another callback cannot move into the full slot, and is unchanged.
	other := e.newCB("+902", a)
	e.create(other, 1, other.Desired)
	into := change(other, func(n *callback.Callback) { n.SlotStart = b })
	kindOf(e.t, e.store.Commit(e.ctx, other, into, other.Desired, callback.SlotMove{Release: true, Take: true, Total: 1}), callback.KindNoCapacity)
	e.wantRecord(other)
	eq(e.t, "old slot after refusal", e.used(a), 1)
	eq(e.t, "full slot after refusal", e.used(b), 1)

	// Within the same full slot a move frees its own place first.
	same := change(moved, func(n *callback.Callback) { n.Desired = n.Desired.Add(time.Minute) })
	if err := e.store.Commit(e.ctx, moved, same, same.Desired, callback.SlotMove{Release: true, Take: true, Total: 1}); err != nil {
		e.t.Fatalf("move inside a full slot: %v", err)
	}
	eq(e.t, "same slot", e.used(b), 1)

	// A forced take (an undo or a repair) puts a held place back even
	// into a full slot.
	forced := change(other, func(n *callback.Callback) { n.SlotStart = b })
	if err := e.store.Commit(e.ctx, other, forced, other.Desired, callback.SlotMove{Release: true, Take: true, Force: true}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "forced slot", e.used(b), 2)
	eq(e.t, "released slot", e.used(a), 0)
}

// testCommitUndo is how a change Postgres refused is undone: the same
// script with the records swapped and the inverse move.
func testCommitUndo(e *env) {
	a, b := e.slotStart(2), e.slotStart(3)
	cb := e.newCB("+1000", a)
	e.create(cb, 3, cb.Desired)
	for _, tc := range []struct {
		name string
		next *callback.Callback
		due  time.Time
		mv   callback.SlotMove
	}{
		{"cancel", change(cb, func(n *callback.Callback) { callback.Complete(n, callback.ReasonCancelled) }), time.Time{}, callback.SlotMove{Release: true}},
		{"reschedule", change(cb, func(n *callback.Callback) { n.SlotStart = b; n.Desired = time.UnixMilli(b).UTC() }), time.UnixMilli(b), callback.SlotMove{Release: true, Take: true, Total: 3}},
		{"phone", change(cb, func(n *callback.Callback) { n.Phone = "+1001" }), cb.Desired, callback.SlotMove{}},
	} {
		if err := e.store.Commit(e.ctx, cb, tc.next, tc.due, tc.mv); err != nil {
			e.t.Fatalf("%s: %v", tc.name, err)
		}
		if err := e.store.Commit(e.ctx, tc.next, cb, cb.Desired, tc.mv.Inverse()); err != nil {
			e.t.Fatalf("%s undo: %v", tc.name, err)
		}
		e.wantRecord(cb)
		eq(e.t, tc.name+": due", e.score("due", cb.ID), cb.Desired.UnixMilli())
		eq(e.t, tc.name+": active", e.active(svc, "+1000"), 1)
		eq(e.t, tc.name+": other number", e.active(svc, "+1001"), -1)
		eq(e.t, tc.name+": old slot", e.used(a), 1)
		eq(e.t, tc.name+": new slot", e.used(b), 0)
	}
}

func testCommitPhone(e *env) {
	cb := e.newCB("+1100", 0)
	e.create(cb, 0, cb.Desired)
	next := change(cb, func(n *callback.Callback) { n.Phone = "+1101" })
	if err := e.store.Commit(e.ctx, cb, next, cb.Desired, callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "old number", e.active(svc, "+1100"), -1)
	eq(e.t, "new number", e.active(svc, "+1101"), 1)
	// An unchanged number keeps its count.
	third := change(next, func(n *callback.Callback) { n.State = callback.Queued })
	if err := e.store.Commit(e.ctx, next, third, cb.Desired, callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "same number", e.active(svc, "+1101"), 1)
}

func testRestore(e *env) {
	slot := e.slotStart(2)
	cb := e.newCB("+1200", slot)
	put, err := e.store.Restore(e.ctx, cb, cb.Desired)
	if err != nil || !put {
		e.t.Fatalf("restore: put=%v err=%v", put, err)
	}
	e.wantRecord(cb)
	eq(e.t, "due", e.score("due", cb.ID), cb.Desired.UnixMilli())
	eq(e.t, "index", e.indexScore(e.tenant), cb.Desired.UnixMilli())
	eq(e.t, "active", e.active(svc, "+1200"), 1)
	eq(e.t, "used", e.used(slot), 1)
	eq(e.t, "pending", e.score("pend", cb.ID), -1)

	// Redis has a newer copy: it is kept and nothing counts twice.
	newer := change(cb, func(n *callback.Callback) { n.Props["x"] = "new" })
	if err := e.store.Commit(e.ctx, cb, newer, cb.Desired, callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	if put, err := e.store.Restore(e.ctx, cb, cb.Desired); err != nil || put {
		e.t.Fatalf("restore over a record: put=%v err=%v", put, err)
	}
	e.wantRecord(newer)
	eq(e.t, "active after second restore", e.active(svc, "+1200"), 1)
	eq(e.t, "used after second restore", e.used(slot), 1)

	// A completed record counts nowhere and has no timer.
	done := e.newCB("+1201", slot)
	callback.Complete(done, "AGENT_CONNECTED")
	if put, err := e.store.Restore(e.ctx, done, time.Time{}); err != nil || !put {
		e.t.Fatalf("restore of a completed record: put=%v err=%v", put, err)
	}
	eq(e.t, "completed active", e.active(svc, "+1201"), -1)
	eq(e.t, "completed due", e.score("due", done.ID), -1)
	eq(e.t, "used with completed", e.used(slot), 1)

	// A scheduled callback whose time passed holds no place any more.
	past := e.newCB("+1202", slot)
	e.clk.Advance(3 * time.Hour)
	if put, err := e.store.Restore(e.ctx, past, past.Desired); err != nil || !put {
		e.t.Fatal(put, err)
	}
	eq(e.t, "active of past", e.active(svc, "+1202"), 1)
	eq(e.t, "used with past", e.used(slot), 1)
}

func testRestoreMany(e *env) {
	tenants := []string{e.tenant, e.tenant + "-b"}
	var cbs []*callback.Callback
	var dues []time.Time
	base := e.clk.Now().Add(time.Hour)
	for ti, tenant := range tenants {
		for i := range 3 {
			cb := e.newCB("+13"+strconv.Itoa(ti)+strconv.Itoa(i), 0)
			cb.Tenant = tenant
			cbs = append(cbs, cb)
			dues = append(dues, base.Add(time.Duration(3*ti+3-i)*time.Minute))
		}
	}
	// Redis already holds a newer copy of the first record.
	first := change(cbs[0], func(n *callback.Callback) { n.Props["x"] = "redis" })
	if _, err := e.store.Restore(e.ctx, first, dues[0]); err != nil {
		fatal(e.t, err)
	}
	put, err := e.store.RestoreMany(e.ctx, cbs, dues)
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "put", put, 5)
	e.wantRecord(first)
	for i, cb := range cbs[1:3] {
		e.wantRecord(cb)
		eq(e.t, "due", e.score("due", cb.ID), dues[i+1].UnixMilli())
		eq(e.t, "active", e.active(svc, cb.Phone), 1)
	}
	eq(e.t, "active of the kept record", e.active(svc, first.Phone), 1)
	for ti, tenant := range tenants {
		earliest := dues[3*ti+2]
		eq(e.t, "index of "+tenant, e.indexScore(tenant), earliest.UnixMilli())
	}
	if n, err := e.store.RestoreMany(e.ctx, nil, nil); err != nil || n != 0 {
		e.t.Fatal(n, err)
	}
}

// testRestoreManyNoScript restores after a server lost its script cache
// (a restart). On a cluster only one master lost it: the records the other
// masters took in the first try must still be announced, else a tenant
// whose records live there would be missing from the timer index and never
// dispatched.
func testRestoreManyNoScript(e *env) {
	// Load the script everywhere (a first restore), then flush the cache
	// of one server.
	warm := e.newCB("+1399", 0)
	if _, err := e.store.RestoreMany(e.ctx, []*callback.Callback{warm}, []time.Time{warm.Desired}); err != nil {
		fatal(e.t, err)
	}
	var flushed *redis.Client
	if err := forEachMaster(e.ctx, e.rdb, func(c *redis.Client) error {
		if flushed != nil {
			return nil
		}
		flushed = c
		return c.ScriptFlush(e.ctx).Err()
	}); err != nil {
		fatal(e.t, err)
	}
	if err := e.rdb.Del(e.ctx, "ges:idx").Err(); err != nil {
		fatal(e.t, err)
	}
	// Tenants on the flushed master and, on a cluster, on the others.
	var tenants []string
	onFlushed, elsewhere := 0, 0
	for i := 0; len(tenants) < 6 || onFlushed == 0 || (isCluster(e.rdb) && elsewhere == 0); i++ {
		tenant := fmt.Sprintf("%s-n%d", e.tenant, i)
		if masterAddr(e, "ges:{"+tenant+"}:cb:x") == flushed.Options().Addr {
			onFlushed++
		} else {
			elsewhere++
		}
		tenants = append(tenants, tenant)
	}
	var cbs []*callback.Callback
	var dues []time.Time
	for i, tenant := range tenants {
		cb := e.newCB("+14"+strconv.Itoa(i), 0)
		cb.Tenant = tenant
		cbs = append(cbs, cb)
		dues = append(dues, cb.Desired.Add(time.Duration(i)*time.Second))
	}
	if _, err := e.store.RestoreMany(e.ctx, cbs, dues); err != nil {
		fatal(e.t, err)
	}
	for i, tenant := range tenants {
		cb := cbs[i]
		v, _ := e.rdb.Get(e.ctx, e.key(tenant, "cb:"+cb.ID)).Result()
		eq(e.t, "record of "+tenant, v, record.Value(cb, 0))
		eq(e.t, "index of "+tenant, e.indexScore(tenant), dues[i].UnixMilli())
	}
}

// testRestoreManyLarge restores more records of one tenant than one script
// call carries, some of which Redis has.
func testRestoreManyLarge(e *env) {
	const n = 620
	var cbs []*callback.Callback
	var dues []time.Time
	slot := e.slotStart(2)
	for i := range n {
		cb := e.newCB("+23"+strconv.Itoa(i%7), slot)
		cbs = append(cbs, cb)
		dues = append(dues, cb.Desired.Add(time.Duration(n-i)*time.Second))
	}
	for _, i := range []int{0, 300, n - 1} {
		if _, err := e.store.Restore(e.ctx, cbs[i], dues[i]); err != nil {
			fatal(e.t, err)
		}
	}
	put, err := e.store.RestoreMany(e.ctx, cbs, dues)
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "put", put, n-3)
	eq(e.t, "due", e.card("due"), int64(n))
	eq(e.t, "used", e.used(slot), n)
	total := 0
	for p := range 7 {
		total += e.active(svc, "+23"+strconv.Itoa(p))
	}
	eq(e.t, "active", total, n)
	eq(e.t, "index", e.indexScore(e.tenant), dues[n-1].UnixMilli())
	for _, i := range []int{1, 250, 251, 499, 500, n - 2} {
		e.wantRecord(cbs[i])
	}
}

func isCluster(rdb redis.UniversalClient) bool {
	_, ok := rdb.(*redis.ClusterClient)
	return ok
}

func masterAddr(e *env, key string) string {
	e.t.Helper()
	c, ok := e.rdb.(*redis.ClusterClient)
	if !ok {
		return e.rdb.(*redis.Client).Options().Addr
	}
	m, err := c.MasterForKey(e.ctx, key)
	if err != nil {
		fatal(e.t, err)
	}
	return m.Options().Addr
}

func testClaim(e *env) {
	now := e.clk.Now()
	var cbs []*callback.Callback
	for i, at := range []time.Duration{-3 * time.Second, -2 * time.Second, -time.Second, 10 * time.Second} {
		cb := e.newCB("+15"+strconv.Itoa(i), 0)
		e.create(cb, 0, now.Add(at))
		cbs = append(cbs, cb)
	}
	leaseEnd := now.Add(30 * time.Second)
	ids, next, err := e.store.Claim(e.ctx, e.tenant, now, leaseEnd, 2)
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "claimed", strings.Join(ids, ","), cbs[0].ID+","+cbs[1].ID)
	eq(e.t, "next", next.UnixMilli(), now.Add(-time.Second).UnixMilli())
	for _, cb := range cbs[:2] {
		eq(e.t, "lease", e.score("lease", cb.ID), leaseEnd.UnixMilli())
		eq(e.t, "due of claimed", e.score("due", cb.ID), -1)
	}
	ids, next, err = e.store.Claim(e.ctx, e.tenant, now, leaseEnd, 10)
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "claimed second", strings.Join(ids, ","), cbs[2].ID)
	eq(e.t, "next second", next.UnixMilli(), now.Add(10*time.Second).UnixMilli())
	// Nothing else is due; the future one waits.
	ids, next, err = e.store.Claim(e.ctx, e.tenant, now, leaseEnd, 10)
	if err != nil || len(ids) != 0 {
		e.t.Fatalf("third claim: %v %v", ids, err)
	}
	eq(e.t, "next third", next.UnixMilli(), now.Add(10*time.Second).UnixMilli())
	eq(e.t, "due of future", e.score("due", cbs[3].ID), now.Add(10*time.Second).UnixMilli())

	// Claimed ahead, up to a horizon: each with the time it is due, its
	// record and a lease beyond it.
	c, err := e.store.ClaimRecords(e.ctx, e.tenant, now, now.Add(10*time.Second), now.Add(40*time.Second), 10)
	if err != nil {
		fatal(e.t, err)
	}
	if len(c.IDs) != 1 || c.IDs[0] != cbs[3].ID || c.Records[0] == nil || c.Records[0].ID != cbs[3].ID {
		e.t.Fatalf("claim ahead: %v %v", c.IDs, c.Records)
	}
	eq(e.t, "due of claimed ahead", c.Due[0].UnixMilli(), now.Add(10*time.Second).UnixMilli())
	eq(e.t, "lease of claimed ahead", e.score("lease", cbs[3].ID), now.Add(40*time.Second).UnixMilli())
	eq(e.t, "next after claim ahead", c.Next.UnixMilli(), leaseEnd.UnixMilli())

	// An empty tenant has no next timer.
	ids, next, err = e.store.Claim(e.ctx, "cc-empty-"+e.tenant, now, leaseEnd, 10)
	if err != nil || len(ids) != 0 || !next.IsZero() {
		e.t.Fatalf("empty tenant: %v %v %v", ids, next, err)
	}
}

// testClaimExpired: a node that died mid-dispatch leaves leases; any node
// claims them first once they end.
func testClaimExpired(e *env) {
	now := e.clk.Now()
	a, b := e.newCB("+1600", 0), e.newCB("+1601", 0)
	e.create(a, 0, now)
	if ids, _, err := e.store.Claim(e.ctx, e.tenant, now, now.Add(30*time.Second), 10); err != nil || len(ids) != 1 {
		e.t.Fatal(ids, err)
	}
	e.create(b, 0, now.Add(time.Second))
	e.clk.Advance(31 * time.Second)
	later := e.clk.Now()
	ids, next, err := e.store.Claim(e.ctx, e.tenant, later, later.Add(30*time.Second), 1)
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "claimed", strings.Join(ids, ","), a.ID)
	eq(e.t, "new lease", e.score("lease", a.ID), later.Add(30*time.Second).UnixMilli())
	eq(e.t, "next", next.UnixMilli(), now.Add(time.Second).UnixMilli())
	// A lease that has not ended is not claimed again.
	ids, _, err = e.store.Claim(e.ctx, e.tenant, later, later.Add(30*time.Second), 10)
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "claimed second", strings.Join(ids, ","), b.ID)
}

func testRelease(e *env) {
	now := e.clk.Now()
	a, b, c := e.newCB("+1700", 0), e.newCB("+1701", 0), e.newCB("+1702", 0)
	for _, cb := range []*callback.Callback{a, b, c} {
		e.create(cb, 0, now)
	}
	if ids, _, err := e.store.Claim(e.ctx, e.tenant, now, now.Add(30*time.Second), 10); err != nil || len(ids) != 3 {
		e.t.Fatal(ids, err)
	}
	// Back to the timers at the given time.
	if err := e.store.Release(e.ctx, e.tenant, a.ID, now.Add(time.Minute)); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "lease of released", e.score("lease", a.ID), -1)
	eq(e.t, "due of released", e.score("due", a.ID), now.Add(time.Minute).UnixMilli())
	// Nothing left to wait for: out of the lease set, no timer.
	if err := e.store.Release(e.ctx, e.tenant, b.ID, time.Time{}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "lease of dropped", e.score("lease", b.ID), -1)
	eq(e.t, "due of dropped", e.score("due", b.ID), -1)
	// Another writer set a timer while the callback was claimed: the
	// earlier of the two stays, so the callback is never looked at late.
	next := change(c, nil)
	if err := e.store.Commit(e.ctx, c, next, now.Add(30*time.Second), callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	if err := e.store.Release(e.ctx, e.tenant, c.ID, now.Add(time.Minute)); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "earlier timer kept", e.score("due", c.ID), now.Add(30*time.Second).UnixMilli())
	eq(e.t, "lease of released after a commit", e.score("lease", c.ID), -1)
	later := change(next, nil)
	if err := e.store.Commit(e.ctx, next, later, now.Add(time.Hour), callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	if err := e.store.Release(e.ctx, e.tenant, c.ID, now.Add(time.Minute)); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "earlier release kept", e.score("due", c.ID), now.Add(time.Minute).UnixMilli())
}

func testPendingExpired(e *env) {
	t0 := e.clk.Now()
	var early []string
	for i := range 3 {
		cb := e.newCB("+18"+strconv.Itoa(i), 0)
		e.admit(cb, 0)
		early = append(early, cb.ID)
	}
	e.clk.Advance(10 * time.Second)
	late := e.newCB("+1810", 0)
	e.admit(late, 0)
	activated := e.newCB("+1811", 0)
	e.admit(activated, 0)
	if err := e.store.Activate(e.ctx, activated, activated.Desired); err != nil {
		fatal(e.t, err)
	}
	list := func(now time.Time, limit int) []string {
		got, err := e.store.PendingExpired(e.ctx, e.tenant, now, limit)
		if err != nil {
			fatal(e.t, err)
		}
		slices.Sort(got)
		return got
	}
	eq(e.t, "before the grace", len(list(t0.Add(redisstore.PendingGrace-time.Millisecond), 100)), 0)
	slices.Sort(early)
	eq(e.t, "at the grace", strings.Join(list(t0.Add(redisstore.PendingGrace), 100), ","), strings.Join(early, ","))
	eq(e.t, "limited", len(list(t0.Add(redisstore.PendingGrace), 2)), 2)
	all := list(t0.Add(time.Hour), 100)
	eq(e.t, "all expired", len(all), 4)
	eq(e.t, "activated listed", slices.Contains(all, activated.ID), false)
	eq(e.t, "late listed", slices.Contains(all, late.ID), true)
}

func testTimerPage(e *env) {
	now := e.clk.Now()
	var all []string
	for i := range 5 {
		cb := e.newCB("+19"+strconv.Itoa(i), 0)
		e.create(cb, 0, now.Add(time.Duration(i)*time.Second))
		all = append(all, cb.ID)
	}
	if ids, _, err := e.store.Claim(e.ctx, e.tenant, now.Add(time.Second), now.Add(time.Minute), 2); err != nil || len(ids) != 2 {
		e.t.Fatal(ids, err)
	}
	var seen []string
	for off := int64(0); ; off += 2 {
		page, err := e.store.TimerPage(e.ctx, e.tenant, off, 2)
		if err != nil {
			fatal(e.t, err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 4 {
			e.t.Fatalf("page of %d, want at most 2 of each set", len(page))
		}
		seen = append(seen, page...)
	}
	slices.Sort(seen)
	slices.Sort(all)
	eq(e.t, "timers walked", strings.Join(seen, ","), strings.Join(all, ","))
}

func testLeaseReconcile(e *env) {
	ok, err := e.store.LeaseReconcile(e.ctx, "a", 30*time.Second)
	if err != nil || !ok {
		e.t.Fatalf("first lease: %v %v", ok, err)
	}
	ok, err = e.store.LeaseReconcile(e.ctx, "b", 30*time.Second)
	if err != nil || ok {
		e.t.Fatalf("second lease: %v %v", ok, err)
	}
	if d := e.ttl("ges:reconcile-lease"); d <= 0 || d > 30*time.Second {
		e.t.Fatalf("lease TTL %s", d)
	}
}

func testSlotsUsed(e *env) {
	a, b, c := e.slotStart(2), e.slotStart(3), e.slotStart(4)
	e.create(e.newCB("+2000", a), 5, time.Time{})
	e.create(e.newCB("+2001", a), 5, time.Time{})
	e.create(e.newCB("+2002", c), 5, time.Time{})
	got, err := e.store.SlotsUsed(e.ctx, e.tenant, svc, []time.Time{time.UnixMilli(a), time.UnixMilli(b), time.UnixMilli(c)})
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "used", fmt.Sprint(got), "[2 0 1]")
	other, err := e.store.SlotsUsed(e.ctx, e.tenant, "other", []time.Time{time.UnixMilli(a)})
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "other service", fmt.Sprint(other), "[0]")
	none, err := e.store.SlotsUsed(e.ctx, e.tenant, svc, nil)
	if err != nil || len(none) != 0 {
		e.t.Fatal(none, err)
	}
}

// testWipe: every tenant key goes, over several SCAN steps and, on a
// cluster, every master; the UI sessions and the restore lock stay.
func testWipe(e *env) {
	const tenants, perTenant = 50, 60 // more keys than one SCAN step
	for i := range tenants {
		pipe := e.rdb.Pipeline()
		for j := range perTenant {
			pipe.Set(e.ctx, fmt.Sprintf("ges:{w%d}:cb:%d", i, j), "1:2:{}", 0)
		}
		if _, err := pipe.Exec(e.ctx); err != nil {
			fatal(e.t, err)
		}
	}
	cb := e.newCB("+2100", e.slotStart(2))
	e.create(cb, 5, cb.Desired)
	if ok, err := e.store.LockHydration(e.ctx, "me", time.Minute); err != nil || !ok {
		e.t.Fatal(ok, err)
	}
	if err := e.rdb.Set(e.ctx, "ges:ui:session:abc", "s", 0).Err(); err != nil {
		fatal(e.t, err)
	}
	n, err := e.store.Wipe(e.ctx)
	if err != nil {
		fatal(e.t, err)
	}
	// The callback has its record, due set, active hash and slot counter.
	eq(e.t, "removed", n, tenants*perTenant+4)
	var left []string
	if err := forEachMaster(e.ctx, e.rdb, func(c *redis.Client) error {
		keys, err := c.Keys(e.ctx, "*").Result()
		left = append(left, keys...)
		return err
	}); err != nil {
		fatal(e.t, err)
	}
	slices.Sort(left)
	eq(e.t, "left", strings.Join(left, " "), "ges:hydrate-lock ges:ui:session:abc")
}

func testHydrated(e *env) {
	ids, err := e.store.RunIDs(e.ctx)
	if err != nil {
		fatal(e.t, err)
	}
	want := 1
	if isCluster(e.rdb) {
		want = 3
	}
	eq(e.t, "run ids", len(ids), want)
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != want {
		e.t.Fatalf("run ids not sorted and distinct: %v", ids)
	}
	check := func(what string, ids []string, want bool) {
		e.t.Helper()
		ok, err := e.store.Hydrated(e.ctx, ids)
		if err != nil {
			fatal(e.t, err)
		}
		eq(e.t, what, ok, want)
	}
	check("before any restore", ids, false)
	if err := e.store.MarkHydrated(e.ctx, ids); err != nil {
		fatal(e.t, err)
	}
	check("after the restore", ids, true)
	check("other servers", append(slices.Clone(ids[1:]), "0000"), false)
	if err := forEachMaster(e.ctx, e.rdb, func(c *redis.Client) error { return c.FlushAll(e.ctx).Err() }); err != nil {
		fatal(e.t, err)
	}
	check("after FLUSHALL", ids, false)
}

// testOneSlot: every key a tenant's scripts touch shares the tenant's hash
// slot, which is what lets them run as one script on a cluster.
func testOneSlot(e *env) {
	c, ok := e.rdb.(*redis.ClusterClient)
	if !ok {
		e.t.Skip("slots exist only on a cluster")
	}
	cb := e.newCB("+2200", e.slotStart(2))
	if err := e.store.Admit(e.ctx, cb, callback.Admission{MaxPerNumber: 5, SlotTotal: 5,
		Throttles: []callback.Throttle{{Limit: 5, Window: time.Minute}, {Limit: 9, Window: time.Hour}}}); err != nil {
		fatal(e.t, err)
	}
	e.create(e.newCB("+2201", 0), 0, e.clk.Now())
	if _, _, err := e.store.Claim(e.ctx, e.tenant, e.clk.Now(), e.clk.Now().Add(time.Minute), 10); err != nil {
		fatal(e.t, err)
	}
	want, err := c.ClusterKeySlot(e.ctx, "{"+e.tenant+"}").Result()
	if err != nil {
		fatal(e.t, err)
	}
	var keys []string
	if err := forEachMaster(e.ctx, c, func(n *redis.Client) error {
		ks, err := n.Keys(e.ctx, "ges:{"+e.tenant+"}:*").Result()
		keys = append(keys, ks...)
		return err
	}); err != nil {
		fatal(e.t, err)
	}
	if len(keys) < 7 { // record x2, pend, due, lease, act, slot, rate x2
		e.t.Fatalf("only %d keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		s, err := c.ClusterKeySlot(e.ctx, k).Result()
		if err != nil {
			fatal(e.t, err)
		}
		eq(e.t, "slot of "+k, s, want)
	}
}

// TestHydratedAfterRestart: a restart from an old snapshot brings the
// restore marker back, but with a new run id, so the store is not taken
// for complete.
func TestHydratedAfterRestart(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	ctx := context.Background()
	s := redisstore.New(rdb, newClock())
	ids, err := s.RunIDs(ctx)
	if err != nil {
		fatal(t, err)
	}
	if err := s.MarkHydrated(ctx, ids); err != nil {
		fatal(t, err)
	}
	if err := r.Snapshot(); err != nil {
		fatal(t, err)
	}
	r.Restart()
	after := waitRunIDs(t, s)
	if slices.Equal(after, ids) {
		t.Fatalf("run id unchanged by a restart: %v", ids)
	}
	if v, err := rdb.Get(ctx, "ges:hydrated").Result(); err != nil || v != strings.Join(ids, ",") {
		t.Fatalf("the snapshot should bring the marker back: %q %v", v, err)
	}
	ok, err := s.Hydrated(ctx, after)
	if err != nil || ok {
		t.Fatalf("hydrated after a restart: %v %v", ok, err)
	}
}

// waitRunIDs asks for the run ids until the restarted server answers.
func waitRunIDs(t *testing.T, s *redisstore.Store) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, err := s.RunIDs(context.Background())
		if err == nil {
			return ids
		}
		if time.Now().After(deadline) {
			fatal(t, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServerWatch: the connection hook distrusts Redis when a connection
// meets a server the last restore did not fill, and wakes the restorer.
func TestServerWatch(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	w := redisstore.NewServerWatch()
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, OnConnect: w.OnConnect})
	defer rdb.Close()
	s := redisstore.New(rdb, newClock())
	if w.Trusted() {
		t.Fatal("a new watch trusts nothing")
	}
	ids := waitRunIDs(t, s)
	w.Trust(ids)
	if !w.Trusted() {
		t.Fatal("not trusted after Trust")
	}
	// A new connection to the same server keeps the trust.
	fresh := redis.NewClient(&redis.Options{Addr: r.Addr, OnConnect: w.OnConnect})
	if err := fresh.Ping(ctx).Err(); err != nil {
		fatal(t, err)
	}
	fresh.Close()
	if !w.Trusted() {
		t.Fatal("a connection to the trusted server distrusted it")
	}
	select {
	case <-w.Kicks():
		t.Fatal("kicked by a connection to the trusted server")
	default:
	}

	r.Restart()
	if got := waitRunIDs(t, s); slices.Equal(got, ids) {
		t.Fatal("run id unchanged by a restart")
	}
	if w.Trusted() {
		t.Fatal("still trusted after a connection met a restarted server")
	}
	select {
	case <-w.Kicks():
	default:
		t.Fatal("the restorer was not kicked")
	}
	// A check that finds the new server complete trusts it again.
	w.Trust(waitRunIDs(t, s))
	if !w.Trusted() {
		t.Fatal("not trusted after Trust")
	}
}

// fatal fails the test with err and the store error beneath it.
func fatal(t *testing.T, err error) {
	t.Helper()
	if cause := errors.Unwrap(err); cause != nil {
		t.Fatalf("%v: %v", err, cause)
	}
	t.Fatal(err)
}

// A live record without any timer would never be looked at again; a wipe
// racing with a create can leave one so. The restore and the reconciler's
// EnsureTimers give it one, and leave alone records that have a timer.
func testTimersComeBack(e *env) {
	due := e.clk.Now().Add(time.Minute)
	lost := e.newCB("+15550000901", 0)
	kept := e.newCB("+15550000902", 0)
	e.create(lost, 0, due)
	e.create(kept, 0, due.Add(time.Hour))
	if err := e.rdb.ZRem(e.ctx, e.key(e.tenant, "due"), lost.ID).Err(); err != nil {
		fatal(e.t, err)
	}
	n, err := e.store.RestoreMany(e.ctx, []*callback.Callback{lost}, []time.Time{due})
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "restored (it exists)", n, 0)
	eq(e.t, "timer given back by the restore", e.score("due", lost.ID), due.UnixMilli())
	if err := e.rdb.ZRem(e.ctx, e.key(e.tenant, "due"), lost.ID).Err(); err != nil {
		fatal(e.t, err)
	}
	fixed, err := e.store.EnsureTimers(e.ctx, e.tenant, []string{lost.ID, kept.ID}, []time.Time{due, due})
	if err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "fixed", len(fixed), 1)
	eq(e.t, "fixed id", fixed[0], lost.ID)
	eq(e.t, "timer given back", e.score("due", lost.ID), due.UnixMilli())
	eq(e.t, "timer of the other kept", e.score("due", kept.ID), due.Add(time.Hour).UnixMilli())
}

// queued is the service's queue count (callback.InQueue), -1 when the
// hash has no field for it.
func (e *env) queued() int {
	e.t.Helper()
	return e.count("q" + strconv.Quote(svc))
}

// The queue count is moved by every script that changes what is in the
// queue: admission (immediate only) and its undo, a hand-off in a batch, a
// completion, and a restore.
func testQueueCount(e *env) {
	now := e.clk.Now()
	imm := e.newCB("+900", 0)
	if err := e.store.Admit(e.ctx, imm, callback.Admission{MaxQueued: 1}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "after an immediate admission", e.queued(), 1)
	kindOf(e.t, e.store.Admit(e.ctx, e.newCB("+901", 0), callback.Admission{MaxQueued: 1}), callback.KindThrottled)
	sched := e.newCB("+902", e.slotStart(2))
	if err := e.store.Admit(e.ctx, sched, callback.Admission{MaxQueued: 1, SlotTotal: 5}); err != nil {
		e.t.Fatalf("a scheduled booking is not in the queue: %v", err)
	}
	eq(e.t, "a scheduled booking", e.queued(), 1)
	if err := e.store.Forget(e.ctx, imm); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "after the undo of the immediate one", e.queued(), -1)
	if err := e.store.Activate(e.ctx, sched, sched.Desired); err != nil {
		fatal(e.t, err)
	}
	handed := change(sched, func(n *callback.Callback) { n.State = callback.Queued })
	if errs, _, err := e.store.CommitRecords(e.ctx, e.tenant, []callback.Commit{{Prev: sched, Next: handed, Due: now.Add(time.Hour)}}); err != nil || errs[0] != nil {
		e.t.Fatalf("hand-off: %v %v", err, errs)
	}
	eq(e.t, "after the hand-off", e.queued(), 1)
	back := change(handed, func(n *callback.Callback) { n.State = callback.Scheduled })
	if errs, _, err := e.store.CommitRecords(e.ctx, e.tenant, []callback.Commit{{Prev: handed, Next: back, Due: now.Add(time.Hour)}}); err != nil || errs[0] != nil {
		e.t.Fatalf("rescheduled by ORS: %v %v", err, errs)
	}
	eq(e.t, "back in the calendar", e.queued(), -1)
	again := change(back, func(n *callback.Callback) { n.State = callback.Routing })
	if err := e.store.Commit(e.ctx, back, again, time.Time{}, callback.SlotMove{}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "routing", e.queued(), 1)
	done := change(again, func(n *callback.Callback) { n.State, n.Reason = callback.Completed, "AGENT_CONNECTED" })
	if err := e.store.Commit(e.ctx, again, done, time.Time{}, callback.SlotMove{Release: true}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "completed", e.queued(), -1)
	// A restore counts what it puts back.
	live := e.newCB("+903", 0)
	live.State = callback.Queued
	if put, err := e.store.Restore(e.ctx, live, time.Time{}); err != nil || !put {
		e.t.Fatalf("restore: %v %v", put, err)
	}
	many := []*callback.Callback{e.newCB("+904", 0), e.newCB("+905", e.slotStart(3))}
	if _, err := e.store.RestoreMany(e.ctx, many, []time.Time{now, many[1].Desired}); err != nil {
		fatal(e.t, err)
	}
	eq(e.t, "after the restores", e.queued(), 2)
}

// The creates of a number in a service per day: refused past the limit,
// whatever became of the earlier ones, counted apart per number and day.
func testAdmitDaily(e *env) {
	ends := e.clk.Now().Add(time.Hour)
	day := callback.DailyLimit{Limit: 2, Day: "20300101", Ends: ends}
	for i := range 2 {
		if err := e.store.Admit(e.ctx, e.newCB("+910", 0), callback.Admission{Daily: day}); err != nil {
			e.t.Fatalf("create %d: %v", i+1, err)
		}
	}
	err := e.store.Admit(e.ctx, e.newCB("+910", 0), callback.Admission{Daily: day})
	kindOf(e.t, err, callback.KindThrottled)
	if !strings.Contains(err.Error(), "_customer_number=+910") || !strings.Contains(err.Error(), "more than 2 times today") {
		e.t.Fatalf("text: %v", err)
	}
	if err := e.store.Admit(e.ctx, e.newCB("+911", 0), callback.Admission{Daily: day}); err != nil {
		e.t.Fatalf("another number: %v", err)
	}
	next := callback.DailyLimit{Limit: 2, Day: "20300102", Ends: ends.Add(24 * time.Hour)}
	if err := e.store.Admit(e.ctx, e.newCB("+910", 0), callback.Admission{Daily: next}); err != nil {
		e.t.Fatalf("the next day: %v", err)
	}
	// A refusal of the day gives back the queue place it took first.
	before := e.queued()
	kindOf(e.t, e.store.Admit(e.ctx, e.newCB("+910", 0), callback.Admission{Daily: day, MaxQueued: 100}), callback.KindThrottled)
	eq(e.t, "queue count after a refusal of the day", e.queued(), before)
	ttl, err := e.rdb.PTTL(e.ctx, e.key(e.tenant, "day:"+strconv.Quote(svc)+":20300101:+910")).Result()
	if err != nil || ttl <= 0 || ttl > time.Hour+time.Minute {
		e.t.Fatalf("the day's counter expires with the day: %v %v", ttl, err)
	}
}
