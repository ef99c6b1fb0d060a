package voice

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const tenant = "3c3d5a3e-6f0b-4c1e-9a57-1d2c0b7e8f01"

func entry(id string, attempt int, now time.Time) Entry {
	cb := &callback.Callback{ID: id, Service: "Callback_Sales", Phone: "+12015550123", Desired: now, Expires: now.Add(time.Hour)}
	svc := &settings.Service{Name: "Callback_Sales", RoutePoint: "5000"}
	return Entry{Tenant: tenant, TenantName: "Environment", Callback: cb, Service: svc, GESURL: "http://ges:3050", Attempt: attempt, Now: now}
}

// TestSubmitExactlyOnce: an attempt submitted again (another node's retry
// after a crash, the same attempt twice in one batch, a retry after
// midnight, a Voice Redis that forgot the script) adds no second entry and
// gets the first entry's id back; a new attempt is a new entry. The entry
// carries the fields of the contract, in order. On single Redis and on
// Cluster (every key of the script in one slot).
func TestSubmitExactlyOnce(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		name := "single"
		if cluster {
			name = "cluster"
		}
		t.Run(name, func(t *testing.T) {
			var rdb redis.UniversalClient
			if cluster {
				nodes := testenv.StartRedisCluster(t)
				rdb = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{nodes[0].Addr}, IsClusterMode: true})
				testenv.WaitClusterWritable(t, rdb)
			} else {
				rdb = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{testenv.StartRedis(t).Addr}})
			}
			t.Cleanup(func() { rdb.Close() })
			ctx := context.Background()
			day := time.Date(2026, 3, 28, 23, 59, 59, 0, time.UTC)
			s := NewStream(rdb, "NewCallbackStream")
			s.now = func() time.Time { return day }

			first := s.SubmitMany(ctx, []Entry{entry("a", 1, day), entry("b", 1, day), entry("a", 1, day)})
			for i, r := range first {
				if r.Err != nil || r.ID == "" {
					t.Fatalf("entry %d: %+v", i, r)
				}
			}
			if !first[0].Added || !first[1].Added || first[2].Added || first[2].ID != first[0].ID {
				t.Fatalf("one attempt twice in a batch: %+v", first)
			}
			wantLen(t, rdb, 2)

			// After midnight, with the script flushed: still the same entry.
			day = day.Add(2 * time.Second)
			forEachServer(t, rdb, func(c *redis.Client) error { return c.ScriptFlush(ctx).Err() })
			id, added, err := s.Submit(ctx, entry("a", 1, day))
			if err != nil || added || id != first[0].ID {
				t.Fatalf("retry after midnight: %q %v %v, want %q not added", id, added, err, first[0].ID)
			}
			// A new attempt is a new entry.
			id2, added, err := s.Submit(ctx, entry("a", 2, day))
			if err != nil || !added || id2 == first[0].ID {
				t.Fatalf("attempt 2: %q %v %v", id2, added, err)
			}
			wantLen(t, rdb, 3)

			// The day's markers expire, after the next day.
			ttl, err := rdb.TTL(ctx, s.markers(day)).Result()
			if err != nil || ttl <= 24*time.Hour || ttl > markerTTL {
				t.Fatalf("TTL of the markers: %v %v", ttl, err)
			}

			msgs, err := rdb.XRange(ctx, "NewCallbackStream", id2, id2).Result()
			if err != nil || len(msgs) != 1 {
				t.Fatalf("XRANGE: %v %v", msgs, err)
			}
			want := map[string]string{"type": "callback.start", "version": "1", "ccid": tenant, "callbackId": "a", "attempt": "2"}
			for k, v := range want {
				if msgs[0].Values[k] != v {
					t.Errorf("field %s = %v, want %s", k, msgs[0].Values[k], v)
				}
			}
			var p payload
			if err := json.Unmarshal([]byte(msgs[0].Values["payload"].(string)), &p); err != nil || p.CallbackID != "a" || p.Params["_route_point"] != "5000" {
				t.Fatalf("payload: %+v %v", p, err)
			}

			// Two days on, the first day's markers are no longer looked at.
			day = day.AddDate(0, 0, 2)
			if _, added, err := s.Submit(ctx, entry("b", 1, day)); err != nil || !added {
				t.Fatalf("two days later: added %v %v", added, err)
			}
		})
	}
}

// TestSubmitBurst: a batch larger than one script call, of two tenants
// mixed, gets every entry added once, in the order given, with its own
// tenant.
func TestSubmitBurst(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.StartRedis(t).Addr})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	s := NewStream(rdb, "NewCallbackStream")
	now := time.Now()
	es := make([]Entry, 3*submitChunk+7)
	for i := range es {
		es[i] = entry(strconv.Itoa(i), 1, now)
		if i%3 == 0 {
			es[i].Tenant = "7b2e4f19-0d8a-4c63-b5e1-2f9a6c4d8e02"
		}
	}
	out := s.SubmitMany(ctx, es)
	again := s.SubmitMany(ctx, es)
	for i := range out {
		if out[i].Err != nil || !out[i].Added || again[i].Added || again[i].ID != out[i].ID {
			t.Fatalf("entry %d: %+v then %+v", i, out[i], again[i])
		}
		if i > 0 && compareIDs(out[i-1].ID, out[i].ID) >= 0 {
			t.Fatalf("entry %d out of order: %s after %s", i, out[i].ID, out[i-1].ID)
		}
	}
	wantLen(t, rdb, int64(len(es)))
	msgs, err := rdb.XRange(ctx, "NewCallbackStream", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if m.Values["ccid"] != es[i].Tenant || m.Values["callbackId"] != es[i].Callback.ID {
			t.Fatalf("entry %d: %v, want %s of %s", i, m.Values, es[i].Callback.ID, es[i].Tenant)
		}
	}
}

func wantLen(t *testing.T, rdb redis.UniversalClient, n int64) {
	t.Helper()
	if got, err := rdb.XLen(context.Background(), "NewCallbackStream").Result(); err != nil || got != n {
		t.Fatalf("stream length %d (%v), want %d", got, err, n)
	}
}

func forEachServer(t *testing.T, rdb redis.UniversalClient, fn func(*redis.Client) error) {
	t.Helper()
	var err error
	if c, ok := rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(context.Background(), func(_ context.Context, m *redis.Client) error { return fn(m) })
	} else {
		err = fn(rdb.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
}
