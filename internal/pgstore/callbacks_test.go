package pgstore

// The durable store of callbacks on a real PostgreSQL, a fresh database per
// test. These tests sit inside the package so that they can hold saves in
// the writer's queue before the writer starts: grouping and the drain on
// stop are then exact, not a matter of timing.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/ids"
	"github.com/gesgo/ges/internal/record"
	"github.com/gesgo/ges/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// newStore returns a store on a fresh, migrated database, without its
// writer: tests start it with run when they want it.
func newStore(t *testing.T) *Store {
	t.Helper()
	pg := testenv.SharedPostgres(t)
	db := pg.NewDatabase(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pg.ConnString(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return New(pool)
}

// run starts the writer until the test ends and waits for it to stop.
func run(t *testing.T, s *Store, writers int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, writers) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

var base = time.Now().UTC().Truncate(time.Millisecond)

func newCB(tenant string) *callback.Callback {
	return &callback.Callback{ID: ids.New(), Tenant: tenant, Service: "svc", Phone: "+1", State: callback.Scheduled,
		Desired: base.Add(time.Hour), Scheduled: true, Created: base, Updated: base, Expires: base.Add(2 * time.Hour),
		EWT: -1, SlotStart: base.Add(time.Hour).UnixMilli(), Rev: 1,
		Props: map[string]string{"k": "v"}, UserData: json.RawMessage(`{"order":"42","n":1}`)}
}

func next(cb *callback.Callback, f func(*callback.Callback)) *callback.Callback {
	n := cb.Clone()
	n.Rev++
	n.Updated = n.Updated.Add(time.Second)
	if f != nil {
		f(n)
	}
	return n
}

func ev(cb *callback.Callback) callback.Event {
	return callback.Event{At: cb.Updated, Rev: cb.Rev, State: cb.State, Reason: cb.Reason, Source: "test"}
}

// sameRecord checks that got is want: the same header and revision, and
// the same user data as JSON (Postgres keeps it as jsonb, which normalises
// spacing).
func sameRecord(t *testing.T, got, want *callback.Callback) {
	t.Helper()
	if got == nil {
		t.Fatalf("record %s missing", want.ID)
	}
	if got.ID != want.ID || got.Tenant != want.Tenant || got.Rev != want.Rev ||
		!bytes.Equal(record.Encode(got), record.Encode(want)) {
		t.Fatalf("record:\n got %s %s rev %d %s\nwant %s %s rev %d %s", got.Tenant, got.ID, got.Rev, record.Encode(got),
			want.Tenant, want.ID, want.Rev, record.Encode(want))
	}
	if !jsonEqual(got.UserData, want.UserData) {
		t.Fatalf("user data %s, want %s", got.UserData, want.UserData)
	}
}

func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func mustGet(t *testing.T, s *Store, tenant, id string) *callback.Callback {
	t.Helper()
	cb, err := s.Get(context.Background(), tenant, id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return cb
}

func history(t *testing.T, s *Store, cb *callback.Callback) []int64 {
	t.Helper()
	evs, err := s.History(context.Background(), cb.Tenant, cb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var revs []int64
	for _, e := range evs {
		revs = append(revs, e.Rev)
	}
	return revs
}

func TestMigrateTwice(t *testing.T) {
	s := newStore(t)
	// Every node migrates at start-up: a second run changes nothing.
	if err := Migrate(context.Background(), s.pool); err != nil {
		t.Fatal(err)
	}
}

func TestSaveWritesRecordAndHistory(t *testing.T) {
	s := newStore(t)
	run(t, s, 4)
	ctx := context.Background()
	cb := newCB("cc1")
	if err := s.Save(ctx, cb, ev(cb)); err != nil {
		t.Fatal(err)
	}
	sameRecord(t, mustGet(t, s, "cc1", cb.ID), cb)
	// The whole record is written on a change, user data included; a
	// record without user data keeps none.
	n := next(cb, func(n *callback.Callback) {
		n.State, n.Props["x"] = callback.Queued, "1"
		n.UserData = json.RawMessage(`{"order":"43"}`)
	})
	if err := s.Save(ctx, n, ev(n)); err != nil {
		t.Fatal(err)
	}
	sameRecord(t, mustGet(t, s, "cc1", cb.ID), n)
	n3 := next(n, func(n *callback.Callback) { n.UserData = nil })
	if err := s.Save(ctx, n3, ev(n3)); err != nil {
		t.Fatal(err)
	}
	sameRecord(t, mustGet(t, s, "cc1", cb.ID), n3)
	if got := history(t, s, cb); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("history revisions %v", got)
	}
	// Another tenant does not see it.
	if _, err := s.Get(ctx, "cc2", cb.ID); !errors.Is(err, callback.ErrNotFound) {
		t.Fatalf("get from another tenant: %v", err)
	}
}

// TestSaveStale: a write whose revision is not newer than the stored one
// changes nothing and leaves no history, so writes from different nodes
// may arrive in any order.
func TestSaveStale(t *testing.T) {
	s := newStore(t)
	run(t, s, 4)
	ctx := context.Background()
	cb := newCB("cc1")
	n := next(cb, func(n *callback.Callback) { n.Props["x"] = "2" })
	for _, c := range []*callback.Callback{cb, n} {
		if err := s.Save(ctx, c, ev(c)); err != nil {
			t.Fatal(err)
		}
	}
	same := next(cb, func(n *callback.Callback) { n.Props["x"] = "other" }) // rev 2 again
	if err := s.Save(ctx, same, ev(same)); !errors.Is(err, callback.ErrStale) {
		t.Fatalf("same revision: %v, want ErrStale", err)
	}
	older := cb.Clone()
	older.Props["x"] = "old"
	if err := s.Save(ctx, older, ev(older)); !errors.Is(err, callback.ErrStale) {
		t.Fatalf("older revision: %v, want ErrStale", err)
	}
	// The id of another tenant's record cannot be taken over.
	foreign := next(n, func(n *callback.Callback) { n.Tenant = "cc2"; n.Rev = 99 })
	if err := s.Save(ctx, foreign, ev(foreign)); !errors.Is(err, callback.ErrStale) {
		t.Fatalf("another tenant's id: %v, want ErrStale", err)
	}
	sameRecord(t, mustGet(t, s, "cc1", cb.ID), n)
	if got := history(t, s, cb); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("history revisions %v", got)
	}
	// A newer one still lands.
	n3 := next(n, nil)
	if err := s.Save(ctx, n3, ev(n3)); err != nil {
		t.Fatal(err)
	}
	sameRecord(t, mustGet(t, s, "cc1", cb.ID), n3)
}

type saveResult struct {
	cb  *callback.Callback
	err error
}

// queue starts one Save per record and returns once all of them wait in
// the writer's queue; the writer must be stopped or busy.
func queue(t *testing.T, s *Store, cbs []*callback.Callback) <-chan saveResult {
	t.Helper()
	out := make(chan saveResult, len(cbs))
	before := len(s.reqs)
	for _, cb := range cbs {
		go func() { out <- saveResult{cb, s.Save(context.Background(), cb, ev(cb))} }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(s.reqs) < before+len(cbs) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d saves queued", len(s.reqs)-before, len(cbs))
		}
		time.Sleep(time.Millisecond)
	}
	return out
}

func collect(t *testing.T, res <-chan saveResult, n int) map[string]error {
	t.Helper()
	out := map[string]error{}
	for range n {
		r := <-res
		out[r.cb.ID] = r.err
	}
	return out
}

// TestGroupedWrites: saves queued together are written in groups of at
// most maxGroup, each in one transaction.
func TestGroupedWrites(t *testing.T) {
	s := newStore(t)
	var mu sync.Mutex
	var groups []int
	s.Batches = func(n int) { mu.Lock(); groups = append(groups, n); mu.Unlock() }
	var cbs []*callback.Callback
	for range 300 {
		cbs = append(cbs, newCB("cc1"))
	}
	res := queue(t, s, cbs)
	run(t, s, 1)
	for id, err := range collect(t, res, len(cbs)) {
		if err != nil {
			t.Fatalf("save %s: %v", id, err)
		}
	}
	mu.Lock()
	got := slices.Clone(groups)
	mu.Unlock()
	if !slices.Equal(got, []int{maxGroup, 300 - maxGroup}) {
		t.Fatalf("groups %v, want [%d %d]", got, maxGroup, 300-maxGroup)
	}
	ids := make([]string, len(cbs))
	for i, cb := range cbs {
		ids[i] = cb.ID
	}
	revs, err := s.Revs(context.Background(), "cc1", ids)
	if err != nil || len(revs) != len(cbs) {
		t.Fatalf("%d of %d written: %v", len(revs), len(cbs), err)
	}
}

// TestGroupedWriteIsolation: a row that fails, or is stale, in a group does
// not fail the others.
func TestGroupedWriteIsolation(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var groups []int
	var mu sync.Mutex
	s.Batches = func(n int) { mu.Lock(); groups = append(groups, n); mu.Unlock() }
	run(t, s, 1)
	stale := newCB("cc1")
	stale.Rev = 5
	if err := s.Save(ctx, stale, ev(stale)); err != nil {
		t.Fatal(err)
	}
	// Hold the writer on a row lock so the next saves queue behind it
	// and are written as one group.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM callbacks WHERE id=$1 FOR UPDATE`, stale.ID); err != nil {
		t.Fatal(err)
	}
	holder := next(stale, nil)
	first := make(chan error, 1)
	go func() { first <- s.Save(ctx, holder, ev(holder)) }()
	waitLocked(t, s)
	var cbs []*callback.Callback
	for range 8 {
		cbs = append(cbs, newCB("cc1"))
	}
	bad := newCB("cc1")
	bad.ID = "not-a-uuid"
	old := stale.Clone()
	old.Rev = 3
	res := queue(t, s, append(slices.Clone(cbs), bad, old))
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	got := collect(t, res, len(cbs)+2)
	for _, cb := range cbs {
		if got[cb.ID] != nil {
			t.Fatalf("a neighbour failed: %v", got[cb.ID])
		}
		mustGet(t, s, "cc1", cb.ID)
	}
	if got[bad.ID] == nil || errors.Is(got[bad.ID], callback.ErrStale) {
		t.Fatalf("bad row: %v, want a write error", got[bad.ID])
	}
	if !errors.Is(got[old.ID], callback.ErrStale) {
		t.Fatalf("stale row: %v, want ErrStale", got[old.ID])
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(groups, []int{1, 1, 10}) {
		t.Fatalf("groups %v, want [1 1 10]", groups)
	}
}

// waitLocked waits until a writer's transaction waits on a row lock.
func waitLocked(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := s.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer never waited on the lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDrainOnStop: a writer told to stop first writes what is queued, so a
// shutdown that stops it last loses no accepted change.
func TestDrainOnStop(t *testing.T) {
	s := newStore(t)
	var cbs []*callback.Callback
	for range 40 {
		cbs = append(cbs, newCB("cc1"))
	}
	res := queue(t, s, cbs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx, 4); err != nil {
		t.Fatal(err)
	}
	for id, err := range collect(t, res, len(cbs)) {
		if err != nil {
			t.Fatalf("save %s: %v", id, err)
		}
	}
	if n := len(s.reqs); n != 0 {
		t.Fatalf("%d saves left in the queue", n)
	}
	for _, cb := range cbs {
		sameRecord(t, mustGet(t, s, "cc1", cb.ID), cb)
	}
}

// TestSaveBounded: without a writer, or with Postgres gone, a save fails
// instead of holding its caller.
func TestSaveBounded(t *testing.T) {
	s := newStore(t)
	cb := newCB("cc1")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Save(ctx, cb, ev(cb)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("save without a writer: %v", err)
	}
	run(t, s, 1)
	s.pool.Close()
	start := time.Now()
	err := s.Save(context.Background(), cb, ev(cb))
	if err == nil || errors.Is(err, callback.ErrStale) {
		t.Fatalf("save on a closed pool: %v, want a failure", err)
	}
	if d := time.Since(start); d > 2*saveTimeout {
		t.Fatalf("save on a closed pool took %s", d)
	}
}

// seed saves records of two tenants, some completed, and returns the live
// ones and all of them.
func seed(t *testing.T, s *Store) (live []*callback.Callback, all []*callback.Callback) {
	t.Helper()
	ctx := context.Background()
	for i := range 9 {
		tenant := "cc1"
		if i%3 == 2 {
			tenant = "cc2"
		}
		cb := newCB(tenant)
		cb.Updated = base.Add(time.Duration(i) * time.Minute)
		if i%4 == 3 {
			callback.Complete(cb, callback.ReasonCancelled)
		}
		if err := s.Save(ctx, cb, ev(cb)); err != nil {
			t.Fatal(err)
		}
		all = append(all, cb)
		if !cb.State.Final() {
			live = append(live, cb)
		}
	}
	return live, all
}

func idsOf(cbs []*callback.Callback) []string {
	out := make([]string, len(cbs))
	for i, cb := range cbs {
		out[i] = cb.ID
	}
	return out
}

func TestRevsAndGetMany(t *testing.T) {
	s := newStore(t)
	run(t, s, 2)
	ctx := context.Background()
	_, all := seed(t, s)
	n := next(all[0], nil)
	if err := s.Save(ctx, n, ev(n)); err != nil {
		t.Fatal(err)
	}
	ask := append(idsOf(all), ids.New()) // and one unknown
	revs, err := s.Revs(ctx, "cc1", ask)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMany(ctx, "cc1", ask)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, cb := range all {
		rev, ok := revs[cb.ID]
		rec := got[cb.ID]
		if cb.Tenant != "cc1" {
			if ok || rec != nil {
				t.Fatalf("another tenant's record %s answered", cb.ID)
			}
			continue
		}
		want++
		wantRev := cb.Rev
		wantRec := cb
		if cb.ID == n.ID {
			wantRev, wantRec = n.Rev, n
		}
		if rev != wantRev {
			t.Fatalf("rev of %s = %d, want %d", cb.ID, rev, wantRev)
		}
		sameRecord(t, rec, wantRec)
	}
	if len(revs) != want || len(got) != want {
		t.Fatalf("answered %d revs and %d records, want %d", len(revs), len(got), want)
	}
	if revs, err := s.Revs(ctx, "cc1", nil); err != nil || len(revs) != 0 {
		t.Fatalf("no ids: %v %v", revs, err)
	}
}

// TestLivePage: the restore and the reconciler walk every non-final record
// of every tenant in id order, page by page, optionally only those changed
// since a time.
func TestLivePage(t *testing.T) {
	s := newStore(t)
	run(t, s, 2)
	ctx := context.Background()
	live, _ := seed(t, s)
	walk := func(since time.Time) []string {
		var out []string
		after := ""
		for {
			page, err := s.LivePage(ctx, after, since, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("page of %d", len(page))
			}
			for _, cb := range page {
				if cb.State.Final() {
					t.Fatalf("completed record %s in a live page", cb.ID)
				}
				out = append(out, cb.ID)
			}
			if len(page) < 2 {
				return out
			}
			after = page[len(page)-1].ID
		}
	}
	want := idsOf(live)
	slices.Sort(want)
	if got := walk(time.Time{}); !slices.Equal(got, want) {
		t.Fatalf("live ids\n got %v\nwant %v", got, want)
	}
	since := base.Add(4 * time.Minute)
	var changed []string
	for _, cb := range live {
		if !cb.Updated.Before(since) {
			changed = append(changed, cb.ID)
		}
	}
	slices.Sort(changed)
	if got := walk(since); !slices.Equal(got, changed) || len(changed) == 0 || len(changed) == len(want) {
		t.Fatalf("changed since\n got %v\nwant %v", got, changed)
	}
	// A record completed later leaves the live set.
	done := next(live[0], func(n *callback.Callback) { callback.Complete(n, "AGENT_CONNECTED") })
	if err := s.Save(ctx, done, ev(done)); err != nil {
		t.Fatal(err)
	}
	if got := walk(time.Time{}); slices.Contains(got, done.ID) || len(got) != len(want)-1 {
		t.Fatalf("after a completion: %v", got)
	}
}
