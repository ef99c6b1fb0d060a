// Package storetest tests callback.Service and the monitor's repairs over
// both real stores: Redis (redisstore) and Postgres (pgstore). It is a
// package of its own because callback cannot import the stores.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/ids"
	"github.com/gesgo/ges/internal/monitor"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/record"
	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/schedule"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// manualClock moves only when a test says so. It starts at the real time:
// Redis expires keys at absolute times of its own clock.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
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

// services is the settings source: one service per tenant.
type services map[string]*settings.Service

func (s services) Service(tenant, name string) (*settings.Service, bool) {
	v, ok := s[tenant+"/"+name]
	return v, ok
}

const (
	tenant   = "cc1"
	svcName  = "svc"
	capacity = 2
)

var policy = callback.Policy{ReportTimeout: time.Minute, MaxAttempts: 3}

// env is one test's GES: both stores, the service and the monitor's
// repairs, all on a manual clock.
type env struct {
	t           *testing.T
	ctx         context.Context
	clk         *manualClock
	rdb         redis.UniversalClient
	redis       *testenv.Redis // nil on a cluster
	hot         *redisstore.Store
	durable     *pgstore.Store
	durablePool *pgxpool.Pool
	pool        *pgxpool.Pool // the test's own connections
	svc         *callback.Service
	rec         *monitor.Reconciler
	restorer    *monitor.Restorer
	watch       *redisstore.ServerWatch
	drift       map[string]int
	repaired    map[string]int
	mu          sync.Mutex
}

type options struct {
	cluster bool
	persist bool
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, ctx: ctx, clk: &manualClock{now: time.Now().UTC().Truncate(time.Millisecond)},
		drift: map[string]int{}, repaired: map[string]int{}, watch: redisstore.NewServerWatch()}
	if o.cluster {
		nodes := testenv.StartRedisCluster(t)
		e.rdb = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{nodes[0].Addr}, IsClusterMode: true, OnConnect: e.watch.OnConnect})
		testenv.WaitClusterWritable(t, e.rdb)
	} else {
		if o.persist {
			e.redis = testenv.StartRedisWith(t, testenv.RedisOptions{})
		} else {
			e.redis = testenv.StartRedis(t)
		}
		e.rdb = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{e.redis.Addr}, OnConnect: e.watch.OnConnect})
	}
	t.Cleanup(func() { e.rdb.Close() })

	pg := testenv.SharedPostgres(t)
	db := pg.NewDatabase(t)
	var err error
	if e.pool, err = pgxpool.New(ctx, pg.ConnString(db)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	if err := pgstore.Migrate(ctx, e.pool); err != nil {
		t.Fatal(err)
	}
	// The service writes through a pool of its own, so a test can close
	// it (Postgres gone) and still read the truth.
	if e.durablePool, err = pgxpool.New(ctx, pg.ConnString(db)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.durablePool.Close)
	e.durable = pgstore.New(e.durablePool)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.durable.Run(wctx, 4) }()
	t.Cleanup(func() { stop(); <-done })

	e.hot = redisstore.New(e.rdb, e.clk)
	svc := &settings.Service{Name: svcName, Location: time.UTC, OfferImmediate: true, OfferScheduled: true,
		MaxPerNumber: 1, HorizonDays: 14, TTL: 4 * time.Hour,
		Plan: schedule.Plan{Loc: time.UTC, Minutes: 15, Capacity: capacity}}
	e.svc = &callback.Service{Hot: redisstore.Admitting{Store: e.hot}, Durable: e.durable, Settings: services{tenant + "/" + svcName: svc},
		Clock: e.clk, Policy: policy}
	e.rec = &monitor.Reconciler{Hot: e.hot, Durable: e.durable, Callbacks: e.svc, Clock: e.clk,
		PageSize: 500, Budget: 20000,
		Drift:    func(k string) { e.mu.Lock(); e.drift[k]++; e.mu.Unlock() },
		Repaired: func(k string) { e.mu.Lock(); e.repaired[k]++; e.mu.Unlock() }}
	e.restorer = &monitor.Restorer{Hot: e.hot, Durable: e.durable, Watch: e.watch, Policy: policy, Clock: e.clk, Interval: time.Minute}
	return e
}

// slot is the start of the capacity slot h hours ahead.
func (e *env) slot(h int) time.Time {
	return e.clk.Now().Add(time.Duration(h) * time.Hour).Truncate(15 * time.Minute)
}

func (e *env) create(phone string, desired time.Time, ud string) *callback.Callback {
	e.t.Helper()
	r := callback.CreateRequest{Service: svcName, Phone: phone, Desired: desired, Source: "test"}
	if ud != "" {
		r.UserData = json.RawMessage(ud)
	}
	cb, err := e.svc.Create(e.ctx, tenant, r)
	if err != nil {
		e.t.Fatalf("create %s: %v", phone, err)
	}
	return cb
}

func (e *env) hotGet(id string) *callback.Callback {
	e.t.Helper()
	cb, err := e.hot.Get(e.ctx, tenant, id)
	if err != nil {
		e.t.Fatalf("redis get %s: %v", id, err)
	}
	return cb
}

func (e *env) pgGet(id string) *callback.Callback {
	e.t.Helper()
	cb, err := pgstore.New(e.pool).Get(e.ctx, tenant, id)
	if err != nil {
		e.t.Fatalf("postgres get %s: %v", id, err)
	}
	return cb
}

// pgSave writes a record to Postgres only, as another node's write whose
// Redis side was lost would have.
func (e *env) pgSave(cb *callback.Callback) {
	e.t.Helper()
	if err := e.durable.Save(e.ctx, cb, callback.Event{At: cb.Updated, Rev: cb.Rev, State: cb.State, Source: "test"}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) exec(sql string) {
	e.t.Helper()
	if _, err := e.pool.Exec(e.ctx, sql); err != nil {
		e.t.Fatal(err)
	}
}

// refuse makes Postgres raise on every INSERT or UPDATE of a callback row.
func (e *env) refuse(op string) {
	e.exec(`CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'refused'; END$$`)
	e.exec(`CREATE TRIGGER refuse_` + strings.ToLower(op) + ` BEFORE ` + op + ` ON callbacks FOR EACH ROW EXECUTE FUNCTION refuse()`)
}

func (e *env) allow(op string) {
	e.exec(`DROP TRIGGER refuse_` + strings.ToLower(op) + ` ON callbacks`)
}

// key is a key of the tenant; the layout is pinned in redisstore's tests.
func key(rest string) string { return "ges:{" + tenant + "}:" + rest }

func (e *env) raw(k string) (string, bool) {
	v, err := e.rdb.Get(e.ctx, k).Result()
	if errors.Is(err, redis.Nil) {
		return "", false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return v, true
}

func (e *env) score(set, id string) int64 {
	s, err := e.rdb.ZScore(e.ctx, key(set), id).Result()
	if errors.Is(err, redis.Nil) {
		return -1
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return int64(s)
}

func (e *env) active(phone string) int {
	v, err := e.rdb.HGet(e.ctx, key("act"), strconv.Quote(svcName)+phone).Result()
	if errors.Is(err, redis.Nil) {
		return 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	n, _ := strconv.Atoi(v)
	return n
}

func (e *env) used(start time.Time) int {
	n, err := e.hot.SlotsUsed(e.ctx, tenant, svcName, []time.Time{start})
	if err != nil {
		e.t.Fatal(err)
	}
	return n[0]
}

// hotState is what Redis holds for the tenant's live callbacks: records
// (user data as canonical JSON), timers and counters. Completed records
// are left out (Redis lets them go, Postgres serves them), and so are the
// rate windows, which a restore does not rebuild.
func (e *env) hotState() map[string]string { return e.hotStateOf(false) }

// restoredState is the hot state with each live record's timer at its next
// check: what a restore gives. A live timer may be earlier (a writer that
// moved the next check later leaves the timer), never later.
func (e *env) restoredState() map[string]string {
	e.t.Helper()
	live := e.hotStateOf(false)
	ideal := e.hotStateOf(true)
	for _, z := range strings.Fields(ideal["due"]) {
		id, at, _ := strings.Cut(z, "@")
		for _, l := range strings.Fields(live["due"]) {
			if lid, lat, _ := strings.Cut(l, "@"); lid == id && must(strconv.ParseInt(lat, 10, 64)) > must(strconv.ParseInt(at, 10, 64)) {
				e.t.Errorf("timer of %s at %s is later than its next check %s", id, lat, at)
			}
		}
	}
	return ideal
}

// hotStateOf reads the hot state; next replaces each live record's timer
// by its next check.
func (e *env) hotStateOf(next bool) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	nextChecks := map[string]int64{}
	var dueZs []redis.Z
	var mu sync.Mutex
	each := func(c *redis.Client) error {
		keys, err := c.Keys(e.ctx, key("*")).Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			rest := strings.TrimPrefix(k, key(""))
			var v string
			switch {
			case strings.HasPrefix(rest, "cb:"):
				s, _ := c.Get(e.ctx, k).Result()
				cb, err := record.Parse(tenant, strings.TrimPrefix(rest, "cb:"), s)
				if err != nil || cb.State.Final() {
					continue
				}
				var ud any
				_ = json.Unmarshal(cb.UserData, &ud)
				b, _ := json.Marshal(ud)
				v = strconv.FormatInt(cb.Rev, 10) + " " + string(record.Encode(cb)) + " " + string(b)
				if at, ok := callback.NextCheck(cb, e.svc.Policy); ok {
					mu.Lock()
					nextChecks[cb.ID] = at.UnixMilli()
					mu.Unlock()
				}
			case rest == "due" || rest == "lease" || rest == "pend":
				zs, err := c.ZRangeWithScores(e.ctx, k, 0, -1).Result()
				if err != nil {
					return err
				}
				var parts []string
				for _, z := range zs {
					parts = append(parts, z.Member.(string)+"@"+strconv.FormatInt(int64(z.Score), 10))
				}
				if rest == "due" {
					mu.Lock()
					dueZs = zs
					mu.Unlock()
				}
				slices.Sort(parts)
				v = strings.Join(parts, " ")
			case rest == "act":
				m, err := c.HGetAll(e.ctx, k).Result()
				if err != nil {
					return err
				}
				var parts []string
				for f, n := range m {
					parts = append(parts, f+"="+n)
				}
				slices.Sort(parts)
				v = strings.Join(parts, " ")
			case strings.HasPrefix(rest, "slot:"):
				v, _ = c.Get(e.ctx, k).Result()
			default:
				continue
			}
			mu.Lock()
			out[rest] = v
			mu.Unlock()
		}
		return nil
	}
	var err error
	if c, ok := e.rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(e.ctx, func(_ context.Context, n *redis.Client) error { return each(n) })
	} else {
		err = each(e.rdb.(*redis.Client))
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if next && len(dueZs) > 0 {
		var parts []string
		for _, z := range dueZs {
			id := z.Member.(string)
			at, ok := nextChecks[id]
			if !ok {
				at = int64(z.Score)
			}
			parts = append(parts, id+"@"+strconv.FormatInt(at, 10))
		}
		slices.Sort(parts)
		out["due"] = strings.Join(parts, " ")
	}
	// A slot counter at zero is the same as none.
	for k, v := range out {
		if strings.HasPrefix(k, "slot:") && v == "0" {
			delete(out, k)
		}
	}
	return out
}

func sameState(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s = %q", what, k, v)
		}
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func wantKind(t *testing.T, err error, k callback.Kind) {
	t.Helper()
	if callback.KindOf(err) != k {
		t.Fatalf("error %v, want kind %d", err, k)
	}
}

// pass runs one reconciliation and returns the drift it found by kind.
func (e *env) pass() map[string]int {
	e.t.Helper()
	e.mu.Lock()
	clear(e.drift)
	clear(e.repaired)
	e.mu.Unlock()
	rep, err := e.rec.Pass(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if rep.Drift != rep.Repaired {
		e.t.Fatalf("pass found %v but repaired %v", e.drift, e.repaired)
	}
	return maps(e.drift)
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sameDrift(t *testing.T, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("drift %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("drift %v, want %v", got, want)
		}
	}
}

func TestCreateReachesBothStores(t *testing.T) {
	e := newEnv(t, options{})
	imm := e.create("+1", time.Time{}, `{"order":"42"}`)
	at := e.slot(3).Add(5 * time.Minute)
	sch := e.create("+2", at, "")
	for _, cb := range []*callback.Callback{imm, sch} {
		h, d := e.hotGet(cb.ID), e.pgGet(cb.ID)
		eq(t, "redis rev", h.Rev, int64(1))
		eq(t, "postgres rev", d.Rev, int64(1))
		eq(t, "same record", string(record.Encode(h)), string(record.Encode(d)))
		eq(t, "not pending", e.score("pend", cb.ID), int64(-1))
		eq(t, "active", e.active(cb.Phone), 1)
	}
	eq(t, "immediate due", e.score("due", imm.ID), imm.Desired.UnixMilli())
	eq(t, "scheduled due", e.score("due", sch.ID), at.UnixMilli())
	eq(t, "slot used", e.used(e.slot(3)), 1)
	eq(t, "user data", string(e.pgGet(imm.ID).UserData), `{"order": "42"}`)
}

// TestCreateRefusedWhenPostgresFails: Postgres fails after the admission:
// the create is refused, its reservations are given back, the id stays a
// tombstone and nothing becomes due.
func TestCreateRefusedWhenPostgresFails(t *testing.T) {
	e := newEnv(t, options{})
	start := e.slot(3)
	other := e.create("+9", start, "") // one of the two places
	e.refuse("INSERT")
	r := callback.CreateRequest{Service: svcName, Phone: "+1", Desired: start.Add(time.Minute), Source: "test"}
	before := e.hotState()
	_, err := e.svc.Create(e.ctx, tenant, r)
	wantKind(t, err, callback.KindUnavailable)
	after := e.hotState()
	sameState(t, "after a refused create", after, before)
	eq(t, "active", e.active("+1"), 0)
	eq(t, "slot used", e.used(start), 1)
	// The tombstone: the only record key besides the other callback's.
	keys, err := e.rdb.Keys(e.ctx, key("cb:*")).Result()
	if err != nil {
		t.Fatal(err)
	}
	var tomb string
	for _, k := range keys {
		if k != key("cb:"+other.ID) {
			tomb = k
		}
	}
	v, _ := e.raw(tomb)
	eq(t, "tombstone", v, "x")
	id := strings.TrimPrefix(tomb, key("cb:"))
	if _, err := pgstore.New(e.pool).Get(e.ctx, tenant, id); !errors.Is(err, callback.ErrNotFound) {
		t.Fatalf("postgres has the refused create: %v", err)
	}
	// Nothing of it is ever due.
	far := e.clk.Now().Add(48 * time.Hour)
	ids, _, err := e.hot.Claim(e.ctx, tenant, far, far.Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{other.ID}) {
		t.Fatalf("claimed %v, want only %s", ids, other.ID)
	}
	// The number and the place are free again.
	e.allow("INSERT")
	e.create("+1", start.Add(time.Minute), "")
	eq(t, "slot used after a retry", e.used(start), 2)
}

// TestCrashAfterAdmission: a node dies after the admission. Without a
// commit the reconciler releases it once its grace passed; with one it
// activates it.
func TestCrashAfterAdmission(t *testing.T) {
	e := newEnv(t, options{})
	start := e.slot(3)
	mk := func(phone string) *callback.Callback {
		now := e.clk.Now()
		desired := start.Add(time.Minute)
		return &callback.Callback{ID: newID(), Tenant: tenant, Service: svcName, Phone: phone, State: callback.Scheduled,
			Desired: desired, Scheduled: true, Created: now, Updated: now, Expires: desired.Add(4 * time.Hour), EWT: -1,
			SlotStart: start.UnixMilli(), Rev: 1, Props: map[string]string{}}
	}
	orphan, committed := mk("+1"), mk("+2")
	for _, cb := range []*callback.Callback{orphan, committed} {
		if err := e.hot.Admit(e.ctx, cb, callback.Admission{MaxPerNumber: 1, SlotTotal: capacity}); err != nil {
			t.Fatal(err)
		}
	}
	e.pgSave(committed) // its commit landed, its activation did not
	if got, err := e.hot.PendingExpired(e.ctx, tenant, e.clk.Now(), 100); err != nil || len(got) != 0 {
		t.Fatalf("pending expired before the grace: %v %v", got, err)
	}
	sameDrift(t, e.pass(), map[string]int{}) // still within the grace: left alone
	eq(t, "slot used while pending", e.used(start), 2)

	e.clk.Advance(redisstore.PendingGrace)
	got, err := e.hot.PendingExpired(e.ctx, tenant, e.clk.Now(), 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{orphan.ID, committed.ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("pending expired %v, want %v", got, want)
	}
	sameDrift(t, e.pass(), map[string]int{"pending_orphan": 1, "pending_committed": 1})
	eq(t, "orphan active", e.active("+1"), 0)
	eq(t, "slot used", e.used(start), 1)
	v, _ := e.raw(key("cb:" + orphan.ID))
	eq(t, "orphan tombstone", v, "x")
	eq(t, "committed due", e.score("due", committed.ID), committed.Desired.UnixMilli())
	eq(t, "committed pending", e.score("pend", committed.ID), int64(-1))
	sameDrift(t, e.pass(), map[string]int{})
}

// TestCrashAfterRedisCommit: a node dies between the Redis commit and the
// Postgres write: Redis is ahead. The monitor never dials it, and the
// reconciler puts Redis back to Postgres once the change is old enough.
func TestCrashAfterRedisCommit(t *testing.T) {
	e := newEnv(t, options{})
	start := e.slot(3)
	cb := e.create("+1", start.Add(time.Minute), "")
	before := e.hotState()
	next := cb.Clone()
	callback.Complete(next, callback.ReasonCancelled)
	next.Rev, next.Updated = 2, e.clk.Now()
	if err := e.hot.Commit(e.ctx, cb, next, time.Time{}, callback.SlotMove{Release: true}); err != nil {
		t.Fatal(err)
	}
	eq(t, "redis rev", e.hotGet(cb.ID).Rev, int64(2))
	eq(t, "postgres rev", e.pgGet(cb.ID).Rev, int64(1))
	eq(t, "slot used while ahead", e.used(start), 0)
	sameDrift(t, e.pass(), map[string]int{}) // its write may still be under way
	e.clk.Advance(redisstore.PendingGrace)
	sameDrift(t, e.pass(), map[string]int{"redis_ahead": 1})
	sameState(t, "after the repair", e.hotState(), before)
	eq(t, "slot used", e.used(start), 1)
	sameDrift(t, e.pass(), map[string]int{})
}

// refusal is a change Postgres may refuse.
type refusal struct {
	name string
	run  func(e *env, cb *callback.Callback) error
}

var refusals = []refusal{
	{"cancel", func(e *env, cb *callback.Callback) error {
		_, err := e.svc.Cancel(e.ctx, tenant, cb.ID, callback.ReasonCancelled, "test", true)
		return err
	}},
	{"reschedule", func(e *env, cb *callback.Callback) error {
		_, err := e.svc.Report(e.ctx, tenant, svcName, cb.ID, "test",
			map[string]string{callback.KeyNewDesiredTime: e.slot(5).Add(time.Minute).Format(time.RFC3339)})
		return err
	}},
	{"user data", func(e *env, cb *callback.Callback) error {
		_, err := e.svc.Report(e.ctx, tenant, svcName, cb.ID, "test", map[string]string{"a": "9", "x": "1"})
		return err
	}},
}

// TestUpdateRefusedByPostgres: a change Postgres refuses is refused
// everywhere: the caller gets a 503 kind, and Redis is back at the previous
// revision with the same timers and counters.
func TestUpdateRefusedByPostgres(t *testing.T) {
	for _, how := range []string{"trigger", "closed pool"} {
		for _, r := range refusals {
			t.Run(how+"/"+r.name, func(t *testing.T) {
				e := newEnv(t, options{})
				start := e.slot(3)
				cb := e.create("+1", start.Add(time.Minute), `{"a":"1"}`)
				before := e.hotState()
				if how == "trigger" {
					e.refuse("UPDATE")
				} else {
					e.durablePool.Close()
				}
				wantKind(t, r.run(e, cb), callback.KindUnavailable)
				sameState(t, "redis after the refusal", e.hotState(), before)
				eq(t, "postgres rev", e.pgGet(cb.ID).Rev, int64(1))
				eq(t, "old slot", e.used(start), 1)
				eq(t, "new slot", e.used(e.slot(5)), 0)
				if how == "trigger" {
					// Once Postgres takes writes again the change goes through.
					e.allow("UPDATE")
					if err := r.run(e, cb); err != nil {
						t.Fatal(err)
					}
					eq(t, "postgres rev after", e.pgGet(cb.ID).Rev, int64(2))
					eq(t, "redis rev after", e.hotGet(cb.ID).Rev, int64(2))
				}
			})
		}
	}
}

// TestStaleSnapshotRepairedOnUpdate: Postgres holds a newer revision than
// Redis (Redis came back from an old snapshot, or a write was lost): the
// update makes Redis take the Postgres record and applies the change on it.
func TestStaleSnapshotRepairedOnUpdate(t *testing.T) {
	e := newEnv(t, options{})
	start := e.slot(3)
	cb := e.create("+1", start.Add(time.Minute), "")
	newer := cb.Clone()
	newer.Rev, newer.Updated = 2, e.clk.Now()
	newer.Props["fromPostgres"] = "1"
	e.pgSave(newer)
	got, err := e.svc.Report(e.ctx, tenant, svcName, cb.ID, "test", map[string]string{"fromUpdate": "1"})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "rev", got.Rev, int64(3))
	for _, c := range []*callback.Callback{e.hotGet(cb.ID), e.pgGet(cb.ID)} {
		eq(t, "rev", c.Rev, int64(3))
		eq(t, "postgres change kept", c.Props["fromPostgres"], "1")
		eq(t, "update applied", c.Props["fromUpdate"], "1")
	}
	eq(t, "active", e.active("+1"), 1)
	eq(t, "slot used", e.used(start), 1)
}

// TestUserDataReachesBothStores: the commit writes the whole record, user
// data included, to both stores; an empty value removes a key.
func TestUserDataReachesBothStores(t *testing.T) {
	e := newEnv(t, options{})
	cb := e.create("+1", time.Time{}, `{"a":"1","b":"2"}`)
	if _, err := e.svc.Report(e.ctx, tenant, svcName, cb.ID, "test", map[string]string{"a": "9", "b": "", "c": "3"}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*callback.Callback{"redis": e.hotGet(cb.ID), "postgres": e.pgGet(cb.ID)} {
		var ud map[string]any
		if err := json.Unmarshal(c.UserData, &ud); err != nil {
			t.Fatalf("%s user data %q: %v", name, c.UserData, err)
		}
		if len(ud) != 1 || ud["a"] != "9" {
			t.Fatalf("%s user data %s, want {\"a\":\"9\"}", name, c.UserData)
		}
		eq(t, name+" key outside the user data", c.Props["c"], "3")
		eq(t, name+" rev", c.Rev, int64(2))
	}
}

// TestRescheduleMovesCapacity: a reschedule gives the old slot's place
// back and takes one in the new slot; into a full slot it is refused in
// both stores.
func TestRescheduleMovesCapacity(t *testing.T) {
	e := newEnv(t, options{})
	a, b := e.slot(3), e.slot(5)
	cb := e.create("+1", a.Add(time.Minute), "")
	resched := func(cb *callback.Callback, to time.Time) error {
		_, err := e.svc.Report(e.ctx, tenant, svcName, cb.ID, "test", map[string]string{callback.KeyNewDesiredTime: to.Format(time.RFC3339)})
		return err
	}
	if err := resched(cb, b.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	eq(t, "old slot", e.used(a), 0)
	eq(t, "new slot", e.used(b), 1)
	for _, c := range []*callback.Callback{e.hotGet(cb.ID), e.pgGet(cb.ID)} {
		eq(t, "slot start", c.SlotStart, b.UnixMilli())
		eq(t, "desired", c.Desired.UnixMilli(), b.Add(2*time.Minute).UnixMilli())
	}
	eq(t, "due", e.score("due", cb.ID), b.Add(2*time.Minute).UnixMilli())

	e.create("+2", b.Add(time.Minute), "") // b is full now
	other := e.create("+3", a.Add(time.Minute), "")
	before := e.hotState()
	wantKind(t, resched(other, b.Add(3*time.Minute)), callback.KindNoCapacity)
	sameState(t, "after a refused reschedule", e.hotState(), before)
	eq(t, "postgres rev", e.pgGet(other.ID).Rev, int64(1))
}

// TestCancelGivesPlaceBack: a callback cancelled before its time frees
// its place in both stores' view.
func TestCancelGivesPlaceBack(t *testing.T) {
	e := newEnv(t, options{})
	a := e.slot(3)
	cb := e.create("+1", a.Add(time.Minute), "")
	got, err := e.svc.Cancel(e.ctx, tenant, cb.ID, callback.ReasonCancelled, "test", true)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "state", got.State, callback.Completed)
	eq(t, "postgres state", e.pgGet(cb.ID).State, callback.Completed)
	eq(t, "slot used", e.used(a), 0)
	eq(t, "active", e.active("+1"), 0)
	eq(t, "due", e.score("due", cb.ID), int64(-1))
	// The number may book again.
	e.create("+1", a.Add(time.Minute), "")
}

// TestReconcilerRepairsDrift puts each kind of drift between the stores
// and checks that one pass repairs it, and that the next finds nothing.
func TestReconcilerRepairsDrift(t *testing.T) {
	e := newEnv(t, options{})
	start := e.slot(3)
	desired := start.Add(time.Minute)
	missing := e.create("+1", desired, "")
	stale := e.create("+2", time.Time{}, "")
	healthy := e.create("+3", time.Time{}, "")
	sameDrift(t, e.pass(), map[string]int{})
	e.clk.Advance(redisstore.PendingGrace)

	// missing: Redis lost the record with its timer and counters.
	wantMissing := e.hotState()
	if err := e.rdb.Del(e.ctx, key("cb:"+missing.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	e.rdb.ZRem(e.ctx, key("due"), missing.ID)
	e.rdb.HIncrBy(e.ctx, key("act"), strconv.Quote(svcName)+"+1", -1)
	e.rdb.Decr(e.ctx, key("slot:"+strconv.Quote(svcName)+":"+strconv.FormatInt(start.UnixMilli(), 10)))

	// redis_stale: Postgres took a change whose Redis side was lost.
	newer := stale.Clone()
	newer.Rev, newer.Updated = 2, e.clk.Now()
	newer.Props["x"] = "pg"
	e.pgSave(newer)

	// not_durable: a live record with a timer that Postgres never had.
	now := e.clk.Now()
	ghost := &callback.Callback{ID: newID(), Tenant: tenant, Service: svcName, Phone: "+4", State: callback.Scheduled,
		Desired: now, Created: now, Updated: now, Expires: now.Add(time.Hour), EWT: -1, Rev: 1, Props: map[string]string{}}
	if err := e.hot.Admit(e.ctx, ghost, callback.Admission{}); err != nil {
		t.Fatal(err)
	}
	if err := e.hot.Activate(e.ctx, ghost, now); err != nil {
		t.Fatal(err)
	}

	// refused_commit: a create answered 503 whose commit still landed.
	late := &callback.Callback{ID: newID(), Tenant: tenant, Service: svcName, Phone: "+5", State: callback.Scheduled,
		Desired: now, Created: now, Updated: now, Expires: now.Add(time.Hour), EWT: -1, Rev: 1, Props: map[string]string{}}
	if err := e.hot.Admit(e.ctx, late, callback.Admission{}); err != nil {
		t.Fatal(err)
	}
	if err := e.hot.Forget(e.ctx, late); err != nil {
		t.Fatal(err)
	}
	e.pgSave(late)

	e.clk.Advance(redisstore.PendingGrace)
	sameDrift(t, e.pass(), map[string]int{"missing": 1, "redis_stale": 1, "not_durable": 1, "refused_commit": 1})

	got := e.hotState()
	for _, k := range []string{"cb:" + missing.ID, "slot:" + strconv.Quote(svcName) + ":" + strconv.FormatInt(start.UnixMilli(), 10)} {
		eq(t, "restored "+k, got[k], wantMissing[k])
	}
	eq(t, "restored timer", e.score("due", missing.ID), desired.UnixMilli())
	eq(t, "restored count", e.active("+1"), 1)
	h := e.hotGet(stale.ID)
	eq(t, "stale repaired rev", h.Rev, int64(2))
	eq(t, "stale repaired content", h.Props["x"], "pg")
	eq(t, "ghost timer", e.score("due", ghost.ID), int64(-1))
	eq(t, "ghost count", e.active("+4"), 0)
	d := e.pgGet(late.ID)
	eq(t, "late commit state", d.State, callback.Completed)
	eq(t, "late commit reason", d.Reason, callback.ReasonNotAcknowledged)
	eq(t, "healthy untouched", e.hotGet(healthy.ID).Rev, int64(1))
	sameDrift(t, e.pass(), map[string]int{})
}

// seedMix books callbacks in every shape a restore must bring back:
// immediate, scheduled in a slot, in the queue (ORS reported), cancelled.
func (e *env) seedMix() []*callback.Callback {
	e.t.Helper()
	start := e.slot(3)
	var out []*callback.Callback
	out = append(out, e.create("+1", time.Time{}, `{"a":"1"}`))
	out = append(out, e.create("+2", start.Add(time.Minute), ""))
	out = append(out, e.create("+3", start.Add(2*time.Minute), `{"b":"2"}`))
	q := e.create("+4", time.Time{}, "")
	if _, err := e.svc.Report(e.ctx, tenant, svcName, q.ID, "test", map[string]string{callback.KeyState: "QUEUED", callback.KeyEWT: "30"}); err != nil {
		e.t.Fatal(err)
	}
	out = append(out, q)
	c := e.create("+5", e.slot(4).Add(time.Minute), "")
	if _, err := e.svc.Cancel(e.ctx, tenant, c.ID, callback.ReasonCancelled, "test", true); err != nil {
		e.t.Fatal(err)
	}
	return append(out, c)
}

func (e *env) restore() {
	e.t.Helper()
	ok, err := e.restorer.Once(e.ctx)
	if err != nil || !ok {
		e.t.Fatalf("restore: ok=%v err=%v", ok, err)
	}
	if !e.watch.Trusted() {
		e.t.Fatal("not trusted after a restore")
	}
}

// TestRestoreAfterLoss: after a Wipe, a FLUSHALL or a restart from an old
// snapshot (a new run id), one restore puts every non-final callback back
// with the same timers and counters.
func TestRestoreAfterLoss(t *testing.T) {
	loss := map[string]func(e *env){
		"wipe": func(e *env) {
			if _, err := e.hot.Wipe(e.ctx); err != nil {
				e.t.Fatal(err)
			}
			// A Wipe leaves the marker: the restore must be asked for.
			e.rdb.Del(e.ctx, "ges:hydrated")
		},
		"flushall": func(e *env) {
			var err error
			if c, ok := e.rdb.(*redis.ClusterClient); ok {
				err = c.ForEachMaster(e.ctx, func(ctx context.Context, n *redis.Client) error { return n.FlushAll(ctx).Err() })
			} else {
				err = e.rdb.FlushAll(e.ctx).Err()
			}
			if err != nil {
				e.t.Fatal(err)
			}
		},
	}
	for _, cluster := range []bool{false, true} {
		for name, lose := range loss {
			topo := "single"
			if cluster {
				topo = "cluster"
			}
			t.Run(topo+"/"+name, func(t *testing.T) {
				e := newEnv(t, options{cluster: cluster})
				e.restore() // the first check of an empty Redis
				cbs := e.seedMix()
				want := e.restoredState()
				nonTrivial(t, want)
				lose(e)
				if ok, err := e.hot.Hydrated(e.ctx, must(e.hot.RunIDs(e.ctx))); err != nil || ok {
					t.Fatalf("hydrated after the loss: %v %v", ok, err)
				}
				e.restore()
				sameState(t, "after the restore", e.hotState(), want)
				// Completed records are read from Postgres.
				got, err := e.svc.Get(e.ctx, tenant, cbs[len(cbs)-1].ID)
				if err != nil || got.State != callback.Completed {
					t.Fatalf("completed record: %v %v", got, err)
				}
				// A second check finds Redis complete and changes nothing.
				e.rdb.Set(e.ctx, key("cb:marker"), "1:2:{}", 0)
				e.restore()
				if _, ok := e.raw(key("cb:marker")); !ok {
					t.Fatal("a check of a complete Redis wiped it")
				}
			})
		}
	}
	t.Run("single/restart from an old snapshot", func(t *testing.T) {
		e := newEnv(t, options{persist: true})
		e.restore()
		cbs := e.seedMix()
		if err := e.redis.Snapshot(); err != nil {
			t.Fatal(err)
		}
		// Changes after the snapshot: the old data Redis comes back with
		// lacks them, and has one callback live that is now cancelled.
		added := e.create("+6", e.slot(6).Add(time.Minute), "")
		if _, err := e.svc.Cancel(e.ctx, tenant, cbs[1].ID, callback.ReasonCancelled, "test", true); err != nil {
			t.Fatal(err)
		}
		want := e.restoredState()
		nonTrivial(t, want)
		e.redis.Restart()
		// The server is back with the old data, marker included.
		if v, ok := e.raw(key("cb:" + cbs[1].ID)); !ok || !strings.HasPrefix(v, "1:") {
			t.Fatalf("the snapshot did not bring the old record back: %q", v)
		}
		if _, ok := e.raw(key("cb:" + added.ID)); ok {
			t.Fatal("a record newer than the snapshot survived the restart")
		}
		e.restore()
		sameState(t, "after the restore", e.hotState(), want)
		eq(t, "added after the snapshot", e.hotGet(added.ID).Rev, int64(1))
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newID() string { return ids.New() }

// nonTrivial makes sure a state comparison compares something: records,
// timers, per-number counts and slot places.
func nonTrivial(t *testing.T, st map[string]string) {
	t.Helper()
	var recs, slots int
	for k := range st {
		switch {
		case strings.HasPrefix(k, "cb:"):
			recs++
		case strings.HasPrefix(k, "slot:"):
			slots++
		}
	}
	if recs < 3 || slots == 0 || st["due"] == "" || st["act"] == "" {
		t.Fatalf("state too thin to compare: %v", st)
	}
}
