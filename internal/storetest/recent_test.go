package storetest

import (
	"strconv"
	"sync"
	"testing"

	"github.com/gesgo/ges/internal/callback"
)

// Two nodes report on the same callback in turn, each starting from its
// own copy of its last commit (callback.Recent): every copy but the
// latest is stale, and no report may be lost or applied on an old record.
// When the copy is current, a report sends no read before its commit.
func TestRecentCopiesNeverLoseAReport(t *testing.T) {
	e := newEnv(t, options{})
	other := *e.svc
	a, b := e.svc, &other
	a.Recent, b.Recent = callback.NewRecent(0), callback.NewRecent(0)
	cb := e.create("+15550007001", e.clk.Now(), `{"n":"0"}`)

	for i, node := range []*callback.Service{a, b, a, a, b, a} {
		key := string(rune('a' + i))
		got, err := node.Report(e.ctx, tenant, svcName, cb.ID, "test", map[string]string{key: "1"})
		if err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		eq(t, "revision after report "+key, got.Rev, cb.Rev+int64(i)+1)
	}
	want := map[string]string{"a": "1", "b": "1", "c": "1", "d": "1", "e": "1", "f": "1"}
	for where, rec := range map[string]*callback.Callback{"redis": e.hotGet(cb.ID), "postgres": e.pgGet(cb.ID)} {
		eq(t, where+" revision", rec.Rev, cb.Rev+6)
		for k, v := range want {
			eq(t, where+" key "+k, rec.Props[k], v)
		}
	}

	// A's copy is current now: its next report sends one command fewer
	// than a node without copies, the read.
	plain := *e.svc
	plain.Recent = nil
	count := func(node *callback.Service, key string) int64 {
		c := &commandCounter{}
		e.rdb.AddHook(c)
		if _, err := node.Report(e.ctx, tenant, svcName, cb.ID, "test", map[string]string{key: "1"}); err != nil {
			t.Fatal(err)
		}
		return c.n.Load()
	}
	withCopy := count(a, "g")
	without := count(&plain, "h")
	eq(t, "commands of a report from a current copy", withCopy, without-1)
}

// ORS reports on a callback while the monitor records its hand-off (ORS
// read the stream entry before the monitor's write landed): whichever
// write is first, both are made, in both stores, and neither caller is
// told the storage failed. With and without the nodes' copies.
func TestReportRacesTheHandOff(t *testing.T) {
	for _, withCopies := range []bool{false, true} {
		name := "read first"
		if withCopies {
			name = "from copies"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, options{})
			monitor, api := *e.svc, *e.svc
			if withCopies {
				monitor.Recent, api.Recent = callback.NewRecent(0), callback.NewRecent(0)
			}
			for i := range 60 {
				cb := e.create("+1555001"+strconv.Itoa(1000+i), e.clk.Now(), "")
				cur := e.hotGet(cb.ID)
				var wg sync.WaitGroup
				var out []callback.Outcome
				var rerr error
				wg.Add(2)
				go func() {
					defer wg.Done()
					out = monitor.UpdateMany(e.ctx, tenant, "monitor", []callback.Change{{Cur: cur, Change: func(c *callback.Callback) (bool, error) {
						if c.Attempt > 0 || c.State.Final() {
							return false, nil
						}
						callback.MarkHandedOff(c, "1-"+strconv.Itoa(i), e.clk.Now())
						return true, nil
					}}})
				}()
				go func() {
					defer wg.Done()
					_, rerr = api.Report(e.ctx, tenant, svcName, cb.ID, "ors", map[string]string{"_callback_state": "QUEUED", "_ors_session_id": "S" + strconv.Itoa(i)})
				}()
				wg.Wait()
				if rerr != nil {
					t.Fatalf("callback %d: the report was refused: %v", i, rerr)
				}
				if out[0].Err != nil {
					t.Fatalf("callback %d: the hand-off was refused: %v", i, out[0].Err)
				}
				hot, pg := e.hotGet(cb.ID), e.pgGet(cb.ID)
				if hot.Rev != pg.Rev || hot.Session != "S"+strconv.Itoa(i) || pg.Session != hot.Session {
					t.Fatalf("callback %d: redis rev %d session %q, postgres rev %d session %q", i, hot.Rev, hot.Session, pg.Rev, pg.Session)
				}
			}
		})
	}
}
