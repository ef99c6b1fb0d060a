package bench

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// orsCommands are what gessim's ORS sends to the Voice Redis (reading the
// stream as a consumer group); the rest there is GES'.
var orsCommands = []string{"xreadgroup", "xautoclaim", "xclaim", "xack", "xgroup|create", "xgroup|createconsumer"}

// counted is what the Redis servers of a stack counted over a span.
type counted struct {
	ges, voice map[string]int64
	over       time.Duration
}

// countCommands resets the command statistics of both Redis servers, runs
// work and reads them back. The harness's own CONFIG RESETSTAT is taken
// out; its reads of the statistics are not counted by Redis itself.
func countCommands(t testing.TB, s *section, ges, voice *redis.Client, work func()) counted {
	t.Helper()
	ctx := context.Background()
	for _, c := range []*redis.Client{ges, voice} {
		if err := c.ConfigResetStat(ctx).Err(); err != nil {
			s.fatalf(t, "CONFIG RESETSTAT: %v", err)
		}
	}
	start := time.Now()
	work()
	c := counted{over: time.Since(start)}
	var err error
	if c.ges, err = commandStats(ctx, ges); err != nil {
		s.fatalf(t, "INFO commandstats: %v", err)
	}
	if c.voice, err = commandStats(ctx, voice); err != nil {
		s.fatalf(t, "INFO commandstats: %v", err)
	}
	for _, m := range []map[string]int64{c.ges, c.voice} {
		if m["config|resetstat"]--; m["config|resetstat"] <= 0 {
			delete(m, "config|resetstat")
		}
	}
	return c
}

// split divides Voice Redis figures into GES' and ORS'.
func split[V any](voice map[string]V) (ges, ors map[string]V) {
	ges, ors = map[string]V{}, map[string]V{}
	for k, v := range voice {
		if slices.Contains(orsCommands, k) {
			ors[k] = v
		} else {
			ges[k] = v
		}
	}
	return ges, ors
}

func byCount(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

const lives = 200

// commandsPerLife counts the Redis commands of immediate callbacks from
// create to COMPLETED, per command, divided by their number. The idle rate
// of the same stack, measured just before, times the span of the run is
// the background noise; it is shown and subtracted.
func commandsPerLife(t *testing.T, s *section) {
	st := benchStack(t, nil)
	ges, voice := redisClient(t, st.Redis.Addr), redisClient(t, st.Voice.Addr)
	pg := pgConn(t, st)
	time.Sleep(3 * time.Second) // let the start-up settle
	const idleSpan = 10 * time.Second
	idle := countCommands(t, s, ges, voice, func() { time.Sleep(idleSpan) })

	c := newCreator(st.Nodes[0], 16)
	defer c.close()
	var booked []booking
	run := countCommands(t, s, ges, voice, func() {
		booked = succeeded(t, s, "immediate creates", c.closed(16, lives, time.Time{}, spec{}))
		ids := make([]string, len(booked))
		for i, b := range booked {
			ids[i] = b.id
		}
		awaitRows(t, s, pg, "COMPLETED", `state = 'COMPLETED'`, ids)
		time.Sleep(2 * time.Second) // the last reports' Redis writes
	})
	n := float64(len(booked))
	scale := run.over.Seconds() / idle.over.Seconds()

	perLife := func(key, label string, runM, idleM map[string]int64, g *goal, byCommand bool) {
		net := map[string]float64{}
		var raw, noise float64
		for k, v := range runM {
			noiseK := float64(idleM[k]) * scale
			raw += float64(v)
			noise += noiseK
			net[k] = (float64(v) - noiseK) / n
		}
		s.add(key+".net", label+" per immediate life", (raw-noise)/n, "", g)
		s.add(key+".raw", label+" per life, before subtracting idle", raw/n, "", nil)
		s.add(key+".noise", label+" idle noise per life (subtracted)", noise/n, "", nil)
		if !byCommand {
			return
		}
		for _, k := range byCount(net) {
			if net[k] >= 0.05 {
				s.add(key+".cmd."+k, "  "+k, net[k], "", nil)
			}
		}
	}
	perLife("ges", "GES Redis commands", run.ges, idle.ges, atMost(12), true)
	var scripts float64
	for _, k := range []string{"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"} {
		scripts += float64(run.ges[k]) - float64(idle.ges[k])*scale
	}
	s.add("ges.scripts", "  of which script calls (EVAL/EVALSHA/FCALL)", scripts/n, "", nil)
	vGES, vORS := split(run.voice)
	iGES, iORS := split(idle.voice)
	perLife("voice_ges", "Voice Redis commands from GES", vGES, iGES, nil, true)
	perLife("voice_ors", "Voice Redis commands from ORS", vORS, iORS, nil, false)
	s.note("%d immediate callbacks created over 16 connections until all are COMPLETED in Postgres (+2 s), counted by INFO commandstats (script inner commands included) on both Redis; the idle rate of the same stack over %s, times the %s of the run, is the noise subtracted; on the Voice Redis, %s are ORS' (connection set-up, HELLO, may come from either side)", lives, idleSpan, run.over.Round(100*time.Millisecond), strings.Join(orsCommands, " "))
}

// idleRates holds scheduled callbacks an hour ahead on a stack with the
// product's timings, lets the node settle, and returns the commands per
// second each Redis counted over window.
func idleRates(t testing.TB, s *section, st *testenv.Stack, scheduled int, window time.Duration) (ges, voice map[string]float64) {
	t.Helper()
	c := newCreator(st.Nodes[0], 16)
	succeeded(t, s, "scheduled creates", c.closed(16, scheduled, time.Time{}, spec{desired: time.Now().Add(time.Hour)}))
	c.close()
	g, v := redisClient(t, st.Redis.Addr), redisClient(t, st.Voice.Addr)
	time.Sleep(10 * time.Second) // let the creates settle
	run := countCommands(t, s, g, v, func() { time.Sleep(window) })
	rate := func(m map[string]int64) map[string]float64 {
		out := map[string]float64{}
		for k, n := range m {
			out[k] = float64(n) / run.over.Seconds()
		}
		return out
	}
	return rate(run.ges), rate(run.voice)
}

func sumRates(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}

// idle measures the Redis commands per second of a node that holds 1,000
// scheduled callbacks an hour ahead, with the product's timings.
func idle(t *testing.T, s *section) {
	st := benchStack(t, nil)
	const window = 30 * time.Second
	ges, voice := idleRates(t, s, st, 1000, window)
	s.add("ges", "idle GES Redis commands (1,000 scheduled)", sumRates(ges), "/s", atMost(0.2))
	for _, k := range byCount(ges) {
		s.add("ges.cmd."+k, "  "+k, ges[k], "/s", nil)
	}
	vg, vo := split(voice)
	s.add("voice_ges", "idle Voice Redis commands from GES", sumRates(vg), "/s", nil)
	for _, k := range byCount(vg) {
		s.add("voice_ges.cmd."+k, "  "+k, vg[k], "/s", nil)
	}
	s.add("voice_ors", "idle Voice Redis commands from ORS (not GES')", sumRates(vo), "/s", nil)
	s.note("%s window after 10 s of settling; the node runs with the product's default timings (%s)", window, describeTimings())
}

// BenchmarkIdleRedisOps measures the Redis commands per second of one idle
// node (product timings) holding 1,000 scheduled callbacks an hour ahead:
// waiting callbacks must cost nothing.
//
//	go test -run '^$' -bench IdleRedisOps -benchtime 1x ./internal/bench/
func BenchmarkIdleRedisOps(b *testing.B) {
	st := benchStack(b, nil)
	s := newReport(testenv.ModuleRoot(b)).section("idle")
	b.ResetTimer()
	for range b.N {
		ges, _ := idleRates(b, s, st, 1000, 20*time.Second)
		b.ReportMetric(sumRates(ges), "redis_ops/s")
	}
}
