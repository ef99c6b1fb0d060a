package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/record"
	"github.com/gesgo/ges/internal/testenv"
)

// BenchmarkCreate books scheduled callbacks through the external API with
// 64 concurrent clients against one GES node and reports throughput,
// latency percentiles, Redis bytes per callback and the average number of
// Postgres writes grouped per round trip.
//
//	go test -run '^$' -bench Create -benchtime 5000x ./internal/e2e/
func BenchmarkCreate(b *testing.B) {
	fx := roomy()
	fx.ContactCenter("Demo").SetSetting("Callback_Sales", "Max Callbacks Per Phone Number", "0")
	s := testenv.NewStack(b, testenv.StackOptions{Fixture: fx, Env: map[string]string{"LOG_LEVEL": "WARN"}})
	n := s.Nodes[0]
	rdb := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rdb.Close()
	ctx := context.Background()
	before, _ := rdb.Info(ctx, "memory").Result()
	desired := wireTime(time.Now().Add(24 * time.Hour))
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	const clients = 64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				r, err := n.ExternalDo("POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{
					"serviceName": "Callback_Sales", "phoneNumber": fmt.Sprintf("+1555%07d", i), "desiredTime": desired,
					"cbOfferType": jsOfferType, "language": "en-US"})
				lat[i] = time.Since(t0)
				if err != nil || r.Status != 200 {
					b.Errorf("create: %v %v", err, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	after, _ := rdb.Info(ctx, "memory").Result()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creates/s")
	b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(usedMemory(after)-usedMemory(before))/float64(b.N), "redis_B/callback")
	sum, count := histogram(metricsText(&testing.T{}, n), "ges_postgres_write_group_size")
	if count > 0 {
		b.ReportMetric(sum/count, "pg_writes/round_trip")
	}
}

func usedMemory(info string) int64 {
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			var n int64
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}

func histogram(m, name string) (sum, count float64) {
	for _, l := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(l, name+"_sum "); ok {
			fmt.Sscan(v, &sum)
		}
		if v, ok := strings.CutPrefix(l, name+"_count "); ok {
			fmt.Sscan(v, &count)
		}
	}
	return sum, count
}

// BenchmarkIdleRedisOps measures the Redis commands per second of one idle
// GES node (default health interval) holding 1000 scheduled callbacks an
// hour ahead: waiting callbacks must cost nothing.
//
//	go test -run '^$' -bench IdleRedisOps -benchtime 1x ./internal/e2e/
func BenchmarkIdleRedisOps(b *testing.B) {
	fx := roomy()
	s := testenv.NewStack(b, testenv.StackOptions{Fixture: fx, Env: map[string]string{"LOG_LEVEL": "WARN", "HEALTH_INTERVAL_SECONDS": "5"}})
	n := s.Nodes[0]
	desired := wireTime(time.Now().Add(time.Hour))
	for i := range 1000 {
		r, err := n.ExternalDo("POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{
			"serviceName": "Callback_Sales", "phoneNumber": fmt.Sprintf("+1666%07d", i), "desiredTime": desired})
		if err != nil || r.Status != 200 {
			b.Fatalf("create: %v %v", err, r)
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rdb.Close()
	ctx := context.Background()
	const window = 20 * time.Second
	b.ResetTimer()
	for range b.N {
		time.Sleep(2 * time.Second) // let the burst of creates settle
		before := totalCommands(ctx, rdb)
		time.Sleep(window)
		after := totalCommands(ctx, rdb)
		b.ReportMetric(float64(after-before-2)/window.Seconds(), "redis_ops/s")
	}
}

func totalCommands(ctx context.Context, rdb *redis.Client) int64 {
	info, _ := rdb.Info(ctx, "stats").Result()
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "total_commands_processed:"); ok {
			var n int64
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}

// BenchmarkRestore fills Postgres with 280,000 non-final callbacks (the
// guide's sizing of a large tenant), flushes GES' Redis and times the
// restore of the running node, from the flush until every callback is back
// in Redis; reported with the node's own measure of the restore.
//
//	go test -run '^$' -bench Restore -benchtime 1x ./internal/e2e/
func BenchmarkRestore(b *testing.B) {
	const total = 280000
	s := testenv.NewStack(b, testenv.StackOptions{Env: map[string]string{"LOG_LEVEL": "INFO"}})
	n := s.Nodes[0]
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, s.PG.ConnString(s.DBName))
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close(ctx)
	ccid := demoCCID(s)
	now := time.Now().UTC()
	rows := make([][]any, 0, total)
	for i := range total {
		desired := now.Add(time.Duration(24+i%48) * time.Hour)
		cb := &callback.Callback{ID: uuid.NewString(), Tenant: ccid, Service: "Callback_Sales", Phone: fmt.Sprintf("+1556%07d", i),
			State: callback.Scheduled, Desired: desired, Scheduled: true, Created: now, Updated: now, Expires: desired.Add(24 * time.Hour),
			EWT: -1, Rev: 1, Props: map[string]string{"_cb_offer_type": "SCHEDULED"}}
		rows = append(rows, []any{cb.ID, ccid, cb.Service, cb.Phone, string(cb.State), cb.Desired, now, now, desired.Add(14 * 24 * time.Hour), int64(1), string(record.Encode(cb))})
	}
	if _, err := pg.CopyFrom(ctx, pgx.Identifier{"callbacks"}, []string{"id", "ccid", "service", "phone", "state", "desired_time", "created_at", "updated_at", "retain_until", "rev", "header"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rdb.Close()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		for {
			keys, err := rdb.DBSize(ctx).Result()
			if err == nil && keys >= total {
				if ok, _ := rdb.Exists(ctx, "ges:hydrated").Result(); ok == 1 {
					break
				}
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("restore did not finish: %d keys", keys)
			}
			time.Sleep(50 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.ReportMetric(elapsed.Seconds(), "restore_s")
		b.ReportMetric(total/elapsed.Seconds(), "callbacks/s")
	}
	b.StopTimer()
	for _, l := range strings.Split(n.Proc.Logs(), "\n") {
		if strings.Contains(l, "redis restored from postgres") {
			b.Log(l)
		}
	}
}
