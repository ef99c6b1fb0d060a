package e2e

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// The same code serves a Redis Cluster: every script of a tenant keeps to
// one slot. Booking, hand-off, ORS reports, capacity under concurrency,
// cancel and the restore after a loss all run against three masters.
func TestRedisCluster(t *testing.T) {
	fx := roomy()
	fx.ContactCenter("Demo").SetSetting("Callback_Support", "Capacity", "5")
	s := testenv.NewStack(t, testenv.StackOptions{Nodes: 2, Fixture: fx, RedisCluster: true})
	a, b := s.Nodes[0], s.Nodes[1]

	id := create(t, a, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15556000"})
	eventually(t, 10*time.Second, "COMPLETED through the cluster", func() bool {
		_, d := retrieve(t, b, demoKey, id)
		return d["callbackReason"] == "AGENT_CONNECTED"
	})

	tomorrow := time.Now().UTC().Add(24 * time.Hour)
	slot := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 15, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := []*testenv.Node{a, b}[i%2].ExternalDo("POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{
				"serviceName": "Callback_Support", "phoneNumber": fmt.Sprintf("+1556%04d", i), "desiredTime": wireTime(slot)})
			if err == nil {
				mu.Lock()
				codes[r.Status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if codes[200] != 5 || codes[429] != 15 {
		t.Fatalf("capacity 5 in a cluster: %v", codes)
	}
	_, slots, _ := availability(t, a, "Callback_Support", url.Values{"start": {wireTime(slot)}, "end": {wireTime(slot.Add(time.Minute))}, "reportBusy": {"true"}})
	if len(slots) != 1 || slots[0].Capacity != 0 {
		t.Fatalf("availability: %+v", slots)
	}
	later := time.Now().Add(8 * time.Second)
	ids := bookMany(t, s, 30, later)
	// Lose every master's data: the callbacks come back from Postgres.
	for _, r := range s.RedisNodes {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		if err := c.FlushAll(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Redis.Addr}})
	defer cc.Close()
	eventually(t, 5*time.Second, "restore", func() bool {
		n, _ := cc.Exists(context.Background(), "ges:hydrated").Result()
		return n == 1
	})
	time.Sleep(time.Until(later))
	checkExactlyOnceAmong(t, s, ids, 15*time.Second)
}
