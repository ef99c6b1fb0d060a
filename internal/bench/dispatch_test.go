package bench

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

const burstSize = 10_000

// burst books 10,000 callbacks due at the same instant T and measures when
// each reached NewCallbackStream: the lag of an entry is the time Redis
// added it (the millisecond part of its id) minus T.
func burst(t *testing.T, s *section) { burstWith(t, s, true) }

// burstORS is the burst with ORS playing each session as its entry comes
// (four reports each, with no pauses), on the same machine: the whole
// platform's rate rather than GES' own.
func burstORS(t *testing.T, s *section) { burstWith(t, s, false) }

// burstWith measures the burst; paused keeps ORS from reading the stream
// meanwhile, so the rate is GES' own hand-off rate.
func burstWith(t *testing.T, s *section, paused bool) {
	st := newBenchStack(t, nil, true, func(fx *testenv.Fixture) { fx.ORS.Paused = paused })
	c := newCreator(st.Nodes[0], 64)
	defer c.close()

	// T must leave time to book them all: estimate the create rate first
	// (callbacks a day ahead, which stay out of the burst).
	t0 := time.Now()
	warm := succeeded(t, s, "warm-up creates", c.closed(64, 1000, time.Time{}, spec{desired: dayAhead()}))
	rate := perSecond(len(warm), time.Since(t0))
	lead := time.Duration(float64(burstSize)/rate*1.3*float64(time.Second)) + 10*time.Second
	lead = min(max(lead, 20*time.Second), 180*time.Second)
	due := time.Now().Add(lead).Truncate(time.Second)
	t.Logf("booking %d callbacks due at %s (in %s; warm-up %.0f creates/s)", burstSize, due.Format("15:04:05"), time.Until(due).Round(time.Second), rate)

	t1 := time.Now()
	booked := succeeded(t, s, "burst creates", c.closed(64, burstSize, time.Time{}, spec{desired: due}))
	if left := time.Until(due); left < time.Second {
		s.fatalf(t, "booking %d callbacks took %s and left %s before their due time (less than 1 s): the burst cannot be measured", len(booked), time.Since(t1).Round(time.Millisecond), left.Round(time.Millisecond))
	}
	s.add("booked", "callbacks booked for the same instant", float64(len(booked)), "", nil)
	s.add("booking_rate", "booking them (64 connections)", perSecond(len(booked), time.Since(t1)), "/s", nil)

	r := newStreamReader(st)
	defer r.close()
	var prof *profiling
	if paused {
		// The node's CPU from just before T to well after the last entry.
		time.Sleep(time.Until(due.Add(-time.Second)))
		prof = startProfile(st.Nodes[0], "due", 3*time.Second)
	}
	time.Sleep(time.Until(due))
	before := voiceTime(t, s, r)
	first := r.await(t, s, idSet(booked), 2*time.Minute)
	voiceUsec := voiceTime(t, s, r) - before
	if prof != nil {
		prof.finish(t, s)
	}
	dueMS := due.UnixMilli()
	lag := make([]float64, 0, len(first))
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, ms := range first {
		lag = append(lag, float64(ms-dueMS))
		lo, hi = min(lo, ms), max(hi, ms)
	}
	spread := time.Duration(max(hi-lo, 1)) * time.Millisecond
	var target *goal
	if paused {
		target = atLeast(10_000)
	}
	s.add("rate", "burst dispatches", perSecond(len(first), spread), "/s", target)
	s.add("spread_ms", "first to last stream entry", float64(hi-lo), "ms", nil)
	var lagTarget *goal
	if paused {
		lagTarget = atMost(100)
	}
	s.addDist("lag", "burst lag after the due time", distOf(lag), lagTarget)
	s.add("voice_us_per_entry", "Voice Redis time per entry in the submit script", float64(voiceUsec)/float64(len(first)), "µs", nil)
	s.note("%s scheduled callbacks due at one instant T; lag = stream entry time (ms part of its id) − T; dispatches/s = count / (last entry − first entry); %s", groupThousands(strconv.Itoa(burstSize)), map[bool]string{true: "ORS does not read the stream meanwhile (GES' own hand-off rate)", false: "gessim's ORS plays each session as its entry comes, four reports each, no pauses, on the same 2 cores"}[paused])
}

// immediate creates immediate callbacks at 1,000 per second for 10 s and
// measures from each create's response to its stream entry, with ORS not
// reading the stream meanwhile: GES' own latency.
func immediate(t *testing.T, s *section) { immediateWith(t, s, true) }

// immediateORS is immediate with ORS playing each session as its entry
// comes (four reports each) on the same machine.
func immediateORS(t *testing.T, s *section) { immediateWith(t, s, false) }

func immediateWith(t *testing.T, s *section, paused bool) {
	st := newBenchStack(t, nil, true, func(fx *testenv.Fixture) { fx.ORS.Paused = paused })
	c := newCreator(st.Nodes[0], 256)
	defer c.close()
	c.closed(16, 200, time.Time{}, spec{desired: dayAhead()}) // warm up
	const rate, length = 1000, 10 * time.Second
	all := c.paced(rate, length, 256, spec{})
	ok := succeeded(t, s, "immediate creates", all)
	sent := perSecond(len(all), all[len(all)-1].start.Sub(all[0].start))
	s.add("create_rate", "immediate creates sent (paced at 1,000/s)", sent, "/s", nil)
	s.add("created", "immediate callbacks created", float64(len(ok)), "", nil)

	r := newStreamReader(st)
	defer r.close()
	first := r.await(t, s, idSet(ok), time.Minute)
	fromResp := make([]float64, 0, len(ok))
	fromReq := make([]float64, 0, len(ok))
	var create []float64
	for _, b := range ok {
		ms := first[b.id]
		fromResp = append(fromResp, float64(ms-b.endMS()))
		fromReq = append(fromReq, float64(ms-b.startMS()))
		create = append(create, b.ms())
	}
	var target *goal
	if paused {
		target = atMost(100)
	}
	s.addDist("lag", "immediate lag after the create's response", distOf(fromResp), target)
	s.addDist("lag_from_request", "immediate lag after the create's request", distOf(fromReq), nil)
	s.addDist("create_latency", "immediate create latency", distOf(create), nil)
	s.note("lag = stream entry time − the time the create's response was read (negative when the entry came first); matched by the entry's callbackId; %s",
		map[bool]string{true: "ORS does not read the stream meanwhile", false: "gessim's ORS plays each session as its entry comes, four reports each, no pauses, on the same 2 cores"}[paused])
}

// voiceTime is the Voice Redis' time in scripts so far (µs, INFO
// commandstats): GES' submissions, without the bench's own reads.
func voiceTime(t *testing.T, s *section, r *streamReader) int64 {
	t.Helper()
	us, err := commandField(context.Background(), r.rdb, "usec")
	if err != nil {
		s.fatalf(t, "INFO commandstats: %v", err)
	}
	return us["evalsha"] + us["eval"]
}
