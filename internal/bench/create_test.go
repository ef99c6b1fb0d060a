package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// createRun is what one closed-loop run of creates measured.
type createRun struct {
	n       int
	rate    float64 // creates per second
	latency dist    // ms
	// pgWrites is the mean number of callback writes per Postgres round
	// trip during the run (NaN when the node does not export it).
	pgWrites float64
}

const pgGroupMetric = "ges_postgres_write_group_size"

// measureCreates books scheduled callbacks a day ahead over conns
// keep-alive connections: n of them (n > 0), or as many as fit in d.
func measureCreates(t testing.TB, s *section, n *testenv.Node, conns, count int, d time.Duration) createRun {
	t.Helper()
	c := newCreator(n, conns)
	defer c.close()
	sp := spec{desired: dayAhead()}
	c.closed(conns, 4*conns, time.Time{}, sp) // open the connections, warm the node up
	m0, _ := metricsText(n)
	var until time.Time
	if count <= 0 {
		until = time.Now().Add(d)
	}
	start := time.Now()
	all := c.closed(conns, count, until, sp)
	elapsed := time.Since(start)
	ok := succeeded(t, s, fmt.Sprintf("creates over %d connections", conns), all)
	lat := make([]float64, len(ok))
	for i, b := range ok {
		lat[i] = b.ms()
	}
	r := createRun{n: len(ok), rate: perSecond(len(ok), elapsed), latency: distOf(lat)}
	m1, _ := metricsText(n)
	s0, c0 := histogram(m0, pgGroupMetric)
	s1, c1 := histogram(m1, pgGroupMetric)
	r.pgWrites = (s1 - s0) / (c1 - c0)
	return r
}

// creates measures create throughput and latency at 16 and 64 connections
// and compares it with the pgbench insert ceiling of the same run.
func creates(t *testing.T, s *section) {
	st := benchStack(t, nil)
	for _, conns := range []int{16, 64} {
		prof := startProfile(st.Nodes[0], fmt.Sprintf("c%d", conns), 8*time.Second)
		r := measureCreates(t, s, st.Nodes[0], conns, 0, 10*time.Second)
		prof.finish(t, s)
		k := fmt.Sprintf("c%d", conns)
		label := fmt.Sprintf("creates, %d connections", conns)
		s.add(k+".rps", label, r.rate, "/s", nil)
		var p99 *goal
		if conns == 16 {
			p99 = atMost(25)
		}
		s.addDist(k+".latency", label+" latency", r.latency, p99)
		s.add(k+".pg_writes_per_round_trip", label+": writes per Postgres round trip", r.pgWrites, "", nil)
		var g *goal
		if conns == 64 {
			g = atLeast(0.8)
		}
		if ceiling, ok := s.r.value(fmt.Sprintf("ceilings.pgbench.c%d.tps", conns)); ok {
			s.add(k+".ratio_pg", fmt.Sprintf("%s / pgbench %d clients", label, conns), r.rate/ceiling, "×", g)
		} else {
			s.text(k+".ratio_pg", fmt.Sprintf("%s / pgbench %d clients", label, conns), "needs the ceilings section", g, "×")
		}
		t.Logf("%s: %d in 10 s, %.0f/s, p50 %.1f ms, p99 %.1f ms", label, r.n, r.rate, r.latency.p50, r.latency.p99)
	}
	s.note("scheduled callbacks a day ahead, per-number limit off, keep-alive connections in a closed loop for 10 s each after a warm-up")
}

// BenchmarkCreate books b.N scheduled callbacks over 64 connections and
// reports throughput, latency percentiles, Redis bytes per callback and the
// writes per Postgres round trip.
//
//	go test -run '^$' -bench Create -benchtime 5000x ./internal/bench/
func BenchmarkCreate(b *testing.B) {
	st := benchStack(b, nil)
	s := newReport(testenv.ModuleRoot(b)).section("create")
	rdb := redisClient(b, st.Redis.Addr)
	before := usedMemory(b, rdb)
	b.ResetTimer()
	r := measureCreates(b, s, st.Nodes[0], 64, b.N, 0)
	b.StopTimer()
	after := usedMemory(b, rdb)
	b.ReportMetric(r.rate, "creates/s")
	b.ReportMetric(r.latency.p50, "p50_ms")
	b.ReportMetric(r.latency.p99, "p99_ms")
	// The warm-up creates are in the delta too.
	b.ReportMetric(float64(after-before)/float64(r.n+4*64), "redis_B/callback")
	b.ReportMetric(r.pgWrites, "pg_writes/round_trip")
}
