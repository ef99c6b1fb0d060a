package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// bookMany books n scheduled callbacks at the same desired time, spread
// over the nodes, and returns their ids.
func bookMany(t *testing.T, s *testenv.Stack, n int, desired time.Time) map[string]bool {
	t.Helper()
	var mu sync.Mutex
	idset := map[string]bool{}
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			node := s.Nodes[i%len(s.Nodes)]
			r, err := node.ExternalDo("POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{
				"serviceName": "Callback_Sales", "phoneNumber": fmt.Sprintf("+1555%07d", i), "desiredTime": wireTime(desired)})
			if err != nil || r.Status != 200 {
				t.Errorf("create %d: %v %s", i, err, bodyOf(r))
				return
			}
			m, _ := r.JSON()
			mu.Lock()
			idset[m["data"].(map[string]any)["id"].(string)] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return idset
}

// checkExactlyOnce waits until every booked callback has a stream entry,
// then checks that there is exactly one per callback (attempt 1) and
// nothing else.
func checkExactlyOnce(t *testing.T, s *testenv.Stack, idset map[string]bool, timeout time.Duration) {
	t.Helper()
	checkEntries(t, s, idset, timeout, true)
}

// checkExactlyOnceAmong is checkExactlyOnce on a stream that may also hold
// entries of other callbacks.
func checkExactlyOnceAmong(t *testing.T, s *testenv.Stack, idset map[string]bool, timeout time.Duration) {
	t.Helper()
	checkEntries(t, s, idset, timeout, false)
}

func checkEntries(t *testing.T, s *testenv.Stack, idset map[string]bool, timeout time.Duration, only bool) {
	t.Helper()
	mine := func() []entry {
		var out []entry
		for _, e := range streamEntries(t, s) {
			if idset[e.CallbackID] || only {
				out = append(out, e)
			}
		}
		return out
	}
	eventually(t, timeout, fmt.Sprintf("%d stream entries", len(idset)), func() bool {
		return len(mine()) >= len(idset)
	})
	time.Sleep(2 * time.Second) // let any duplicate show up
	es := mine()
	count := map[string]int{}
	for _, e := range es {
		if !idset[e.CallbackID] {
			t.Errorf("entry for unknown callback %s", e.CallbackID)
		}
		if e.Attempt != "1" {
			t.Errorf("callback %s handed off with attempt %s", e.CallbackID, e.Attempt)
		}
		count[e.CallbackID]++
	}
	for id, c := range count {
		if c != 1 {
			t.Errorf("callback %s has %d entries", id, c)
		}
	}
	if len(es) != len(idset) || len(count) != len(idset) {
		t.Fatalf("%d entries for %d distinct callbacks, want exactly %d", len(es), len(count), len(idset))
	}
}

// roomy is the default fixture with slots large enough, and no rate
// windows, for the bulk tests.
func roomy() *testenv.Fixture {
	fx := testenv.DefaultFixture()
	cc := fx.ContactCenter("Demo")
	cc.SetSetting("Callback_Sales", "Capacity", "100000")
	cc.SetSetting("Callback_Sales", "Throttle Callbacks Per Service 1", "0")
	cc.SetSetting("Callback_Sales", "Throttle Callbacks Per Service 2", "0")
	return fx
}

func bodyOf(r *testenv.Response) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}

func TestTwoNodesHandOffExactlyOnce(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Nodes: 2, Fixture: roomy()})
	desired := time.Now().Add(6 * time.Second)
	ids := bookMany(t, s, 500, desired)
	time.Sleep(time.Until(desired))
	checkExactlyOnce(t, s, ids, 15*time.Second)
}

func TestNodeKilledMidDispatchLosesNothing(t *testing.T) {
	// Small batches make dispatch take many round trips, so the kill lands
	// while node 0 holds claimed callbacks.
	s := testenv.NewStack(t, testenv.StackOptions{Nodes: 2, Fixture: roomy(), Env: map[string]string{"MONITOR_BATCH_SIZE": "5"}})
	desired := time.Now().Add(6 * time.Second)
	ids := bookMany(t, s, 500, desired)
	time.Sleep(time.Until(desired.Add(30 * time.Millisecond)))
	s.Nodes[0].Proc.Kill()
	rdb := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rdb.Close()
	leased, _ := rdb.ZCard(context.Background(), "ges:{"+demoCCID(s)+"}:lease").Result()
	t.Logf("at the kill: %d entries on the stream, %d callbacks leased", len(streamEntries(t, s)), leased)
	checkExactlyOnce(t, s, ids, 30*time.Second)
}

// After Redis loses everything (FLUSHALL) the live callbacks come back from
// Postgres without an operator, and are still handed off on time.
func TestRedisLossRestoresLiveCallbacks(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	desired := time.Now().Add(5 * time.Second)
	ids := bookMany(t, s, 20, desired)
	done := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550100",
		"desiredTime": wireTime(time.Now().Add(time.Hour))})
	if code, _ := n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]string{"id": done}); code != 200 {
		t.Fatal("cancel failed")
	}

	rdb := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "restore", func() bool {
		n, _ := rdb.Exists(ctx, "ges:hydrated").Result()
		return n == 1
	})
	for id := range ids {
		if ok, _ := rdb.Exists(ctx, "ges:{"+demoCCID(s)+"}:cb:"+id).Result(); ok != 1 {
			t.Fatalf("callback %s not restored to Redis", id)
		}
		if st := state(t, n, id); st != "SCHEDULED" {
			t.Fatalf("restored %s in state %s", id, st)
		}
	}
	if ok, _ := rdb.Exists(ctx, "ges:{"+demoCCID(s)+"}:cb:"+done).Result(); ok != 0 {
		t.Fatal("a completed callback was restored as live")
	}
	time.Sleep(time.Until(desired))
	checkExactlyOnce(t, s, ids, 10*time.Second)
	if _, d := retrieve(t, n, demoKey, done); d["callbackReason"] != "CANCELLED" {
		t.Fatalf("cancelled callback after restore: %v", d)
	}
}
