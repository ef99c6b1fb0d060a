package faulttest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// run is one fault on a fresh stack under load.
type run struct {
	t    *testing.T
	name string
	p    profile
	s    *testenv.Stack
	ccid string
	load *load
	obs  *observer

	loadStart  time.Time
	faultBegin time.Time // set by execute; a fault may move it later
	faultEnd   time.Time // set by the fault when it heals; else when it returns
	// checks run on the finished load and add fault-specific figures to
	// the line, and problems that fail the test.
	checks []func([]request) (figures string, problems []string)
}

func fixture() *testenv.Fixture {
	fx := testenv.DefaultFixture()
	cc := fx.ContactCenter("Demo")
	cc.SetSetting("Callback_Sales", "Capacity", "100000")
	cc.SetSetting("Callback_Sales", "Throttle Callbacks Per Service 1", "0")
	cc.SetSetting("Callback_Sales", "Throttle Callbacks Per Service 2", "0")
	// Faults stop ORS or GES for a while: the queue may grow past the
	// product's limit, which is not what these runs measure.
	cc.SetSetting("Callback_Sales", "Max Queued Callbacks Per Service", "0")
	// A short queue wait keeps the hand-off of scheduled callbacks close
	// to their desired time, so they are still waiting in Redis when the
	// fault strikes.
	q := fx.URS.Queues["Callback_Sales"]
	q.EWT, q.Position = 1, 1
	fx.URS.Queues["Callback_Sales"] = q
	return fx
}

func newRun(t *testing.T, name string, p profile) *run {
	s := testenv.NewStack(t, testenv.StackOptions{
		Nodes: 3, Fixture: fixture(), ServiceURL: true,
		// The Voice Redis of a deployment persists its stream.
		Voice: testenv.RedisOptions{AppendOnly: true},
		Env: map[string]string{
			"LOG_LEVEL":                      "INFO",
			"MONITOR_REPORT_TIMEOUT_SECONDS": fmt.Sprint(int(reportTimeout / time.Second)),
		},
	})
	r := &run{t: t, name: name, p: p, s: s, ccid: s.Fixture.ContactCenter("Demo").ID}
	r.load = newLoad(s, p)
	r.obs = newObserver(s, r.load)
	return r
}

// execute runs the load, injects the fault at its time, waits for the load
// to end and the callbacks to settle, then prints and checks the verdict.
func (r *run) execute(inject func(*run)) {
	r.obs.start()
	r.loadStart = time.Now()
	r.load.start()
	time.Sleep(time.Until(r.loadStart.Add(r.p.faultAt)))
	r.faultBegin = time.Now()
	inject(r)
	if r.faultEnd.IsZero() {
		r.faultEnd = time.Now()
	}
	r.load.wait()
	r.settle()
	r.obs.finish()
	r.judge(r.verdict())
}

// sleep lasts a fault for its outage.
func (r *run) sleep() { time.Sleep(r.p.outage[r.name]) }

// deadline is when every acknowledged callback must be final: the settle
// time past the later of the last due time and the end of the fault.
func (r *run) deadline() time.Time {
	last := r.faultEnd
	for _, q := range r.load.snapshot() {
		if q.result == acked && q.due.After(last) {
			last = q.due
		}
	}
	return last.Add(r.p.settle)
}

// settle waits until Postgres shows every acknowledged callback final, or
// the deadline passes.
func (r *run) settle() {
	deadline := r.deadline()
	var ids []string
	for _, q := range r.load.snapshot() {
		if q.result == acked {
			ids = append(ids, q.id)
		}
	}
	for {
		open, own := r.openInPostgres(ids)
		// A callback ORS reported on may stay open for the wait ORS
		// announced plus the report timeout (the goal of the design), up to
		// a bound that keeps the run short.
		until := deadline
		if own.After(until) {
			until = minTime(own, deadline.Add(maxEWTWait))
		}
		if open == 0 || time.Now().After(until) {
			r.t.Logf("%s: %d acknowledged callbacks not final in Postgres %s after the load",
				r.name, open, time.Since(r.loadStart.Add(r.p.load)).Round(time.Second))
			return
		}
		time.Sleep(time.Second)
	}
}

// maxEWTWait bounds how long past the settle deadline the run waits for
// callbacks whose reported wait is still running.
const maxEWTWait = 5 * time.Minute

// ownDeadline is when a callback must be final by its own reports: its
// last change plus the wait ORS reported plus the report timeout.
func ownDeadline(c copyState) time.Time {
	return c.updated.Add(time.Duration(max(c.ewt, 0))*time.Second + reportTimeout + 5*time.Second)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// openInPostgres counts ids whose row is missing or not final, and the
// latest of their own deadlines; an unreachable Postgres counts them all.
func (r *run) openInPostgres(ids []string) (open int, own time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pg, err := pgCopies(ctx, r.s.PG.ConnString(r.s.DBName), r.ccid)
	if err != nil {
		return len(ids), time.Time{}
	}
	for _, id := range ids {
		c, ok := pg[id]
		if ok && c.state == completed {
			continue
		}
		open++
		if d := ownDeadline(c); ok && d.After(own) {
			own = d
		}
	}
	return open, own
}

// verdict is the outcome of one fault.
type verdict struct {
	sent, acked, refused, unknown int
	lost, phantom, unknownDialled int
	dupAttempts, doubleSessions   int
	stranded, divergent           int
	waiting                       int // open, within the wait ORS reported
	recovery                      time.Duration
	figures                       []string
	examples                      map[string][]string // category -> a few explanations
	problems                      []string
}

func (v *verdict) example(kind, s string) {
	if len(v.examples[kind]) < 5 {
		v.examples[kind] = append(v.examples[kind], s)
	}
}

func (r *run) verdict() *verdict {
	v := &verdict{examples: map[string][]string{}}
	reqs := r.load.snapshot()
	entries, sessions := r.obs.seen()
	v.sent = len(reqs)
	r.countRequests(v, reqs)
	r.countStream(v, reqs, entries)
	r.countFinal(v, reqs, entries, sessions)
	n, err := doubleSessions(r.s.Sim.AdminURL)
	if err != nil {
		v.problems = append(v.problems, "ORS ledger: "+err.Error())
	}
	v.doubleSessions = n
	for _, s := range sessions {
		if s.Concurrent > 0 {
			v.example("double-sessions", fmt.Sprintf("%s attempt %s started at %s beside %d live session(s)",
				s.CallbackID, s.Attempt, s.StartedAt.Format(time.TimeOnly), s.Concurrent))
		}
	}
	r.countDrift(v)
	v.recovery = r.obs.recovery(r.faultBegin, r.faultEnd)
	for _, c := range r.checks {
		fig, probs := c(reqs)
		v.figures = append(v.figures, fig)
		v.problems = append(v.problems, probs...)
	}
	return v
}

func (r *run) countRequests(v *verdict, reqs []request) {
	for _, q := range reqs {
		switch q.result {
		case acked:
			v.acked++
		case refused:
			v.refused++
		default:
			v.unknown++
		}
	}
}

// countStream finds refused creates that were dialled anyway and attempts
// handed off more than once.
func (r *run) countStream(v *verdict, reqs []request, entries []streamEntry) {
	dialled := map[string]string{}
	perAttempt := map[string]int{}
	for _, e := range entries {
		dialled[e.phone] = e.callbackID
		perAttempt[attemptKey(e)]++
	}
	for _, q := range reqs {
		id, ok := dialled[q.phone]
		switch {
		case !ok:
		case q.result == refused:
			v.phantom++
			v.example("refused-dialled", fmt.Sprintf("%s refused (%d %s) by node %d, handed off as %s", q.phone, q.status, q.err, q.node, id))
		case q.result != acked:
			v.unknownDialled++
		}
	}
	for k, c := range perAttempt {
		if c > 1 {
			v.dupAttempts += c - 1
			v.example("duplicated", fmt.Sprintf("%s: %d entries", k, c))
		}
	}
}

// countFinal classifies every acknowledged callback that Postgres does not
// show final: confirmed over the GMS API, then lost (never handed off) or
// stranded (handed off, never finished).
func (r *run) countFinal(v *verdict, reqs []request, entries []streamEntry, sessions []session) {
	handed := map[string]bool{}
	for _, e := range entries {
		handed[e.callbackID] = true
	}
	played := map[string][]string{} // callback id -> "attempt:outcome" of its ORS sessions
	for _, s := range sessions {
		played[s.CallbackID] = append(played[s.CallbackID], s.Attempt+":"+s.Outcome)
	}
	pg, err := retry(time.Now().Add(30*time.Second), func(ctx context.Context) (map[string]copyState, error) {
		return pgCopies(ctx, r.s.PG.ConnString(r.s.DBName), r.ccid)
	})
	if err != nil {
		v.problems = append(v.problems, "reading Postgres: "+err.Error())
	}
	for _, q := range reqs {
		if q.result != acked || pg[q.id].state == completed {
			continue
		}
		state, found, err := gmsState(r.s.Nodes[0], r.ccid, q.id)
		if err != nil {
			v.problems = append(v.problems, err.Error())
			continue
		}
		if state == completed {
			continue
		}
		why := fmt.Sprintf("%s (%s, due %s): Postgres %q rev %d, GMS %q (found %v), ORS sessions %v",
			q.id, q.phone, q.due.Format(time.TimeOnly), pg[q.id].state, pg[q.id].rev, state, found, played[q.id])
		switch {
		case handed[q.id] && time.Now().Before(ownDeadline(pg[q.id])):
			v.waiting++ // ORS announced a wait that is not over yet
		case handed[q.id]:
			v.stranded++
			v.example("stranded", why)
		default:
			v.lost++
			v.example("lost", why)
		}
	}
}

// countDrift compares the stores until they agree or a short deadline
// passes: a repair in progress is not drift.
func (r *run) countDrift(v *verdict) {
	rdb := redis.NewClient(&redis.Options{Addr: r.s.Redis.Addr})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		pg, err1 := pgCopies(ctx, r.s.PG.ConnString(r.s.DBName), r.ccid)
		rd, err2 := redisCopies(ctx, rdb, r.ccid)
		cancel()
		var d map[string]string
		if err1 == nil && err2 == nil {
			d = drift(pg, rd)
			v.divergent = len(d)
		}
		if (err1 == nil && err2 == nil && len(d) == 0) || time.Now().After(deadline) {
			if err1 != nil || err2 != nil {
				v.problems = append(v.problems, fmt.Sprintf("comparing the stores: %v %v", err1, err2))
			}
			for _, id := range slices.Sorted(maps.Keys(d)) {
				v.example("divergent", id+": "+d[id])
			}
			return
		}
		time.Sleep(time.Second)
	}
}

func (v *verdict) line(name string) string {
	rec := "never"
	if v.recovery >= 0 {
		rec = fmt.Sprintf("%.1fs", v.recovery.Seconds())
	}
	l := fmt.Sprintf("%-16s sent=%-5d acked=%-5d refused=%-4d unknown=%-3d lost=%-4d refused-dialled=%-3d unknown-dialled=%-3d dup-attempts=%-3d double-sessions=%-3d stranded=%-4d waiting=%-4d divergent=%-4d recovery=%s",
		name, v.sent, v.acked, v.refused, v.unknown, v.lost, v.phantom, v.unknownDialled,
		v.dupAttempts, v.doubleSessions, v.stranded, v.waiting, v.divergent, rec)
	for _, f := range v.figures {
		if f != "" {
			l += " " + f
		}
	}
	return l
}

// judge prints the line and fails the test on any broken promise.
func (r *run) judge(v *verdict) {
	line := v.line(r.name)
	fmt.Println(line)
	addSummary(line)
	if v.acked < v.sent/5 {
		r.t.Errorf("only %d of %d creates acknowledged: the load did not reach GES", v.acked, v.sent)
	}
	for _, c := range []struct {
		kind string
		n    int
	}{
		{"lost", v.lost}, {"refused-dialled", v.phantom}, {"duplicated", v.dupAttempts},
		{"double-sessions", v.doubleSessions}, {"stranded", v.stranded}, {"divergent", v.divergent},
	} {
		if c.n > 0 {
			r.t.Errorf("%s: %d, e.g.\n  %s", c.kind, c.n, strings.Join(v.examples[c.kind], "\n  "))
		}
	}
	for _, p := range v.problems {
		r.t.Error(p)
	}
}
