package monitor

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/loop"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/record"
	"github.com/gesgo/ges/internal/redisstore"
)

// Reconciler is the anti-entropy pass: it compares Postgres (the truth)
// with Redis and repairs any difference, and resolves admissions whose
// Postgres commit was never confirmed (a node died between the two).
//
// Every Interval it looks at what may have drifted since the last pass:
// the tenants the pending index names (admissions past their deadline) and
// the records Postgres stored a revision of (its history's time index),
// once that revision is PendingGrace old, when the writes of its change
// are done. A sweep over everything (every non-final Postgres record, the
// pending admissions and the timers of every tenant with callbacks) runs
// besides, its steps spread over FullCycle, for drift neither shows (a
// record Redis lost, a change Redis took whose Postgres write never came).
// A pass with nothing to look at sends Redis one command. Every node runs
// it; a lease in Redis gives each interval's pass to one of them.
type Reconciler struct {
	Hot       *redisstore.Store
	Durable   *pgstore.Store
	Callbacks *callback.Service
	Watch     *redisstore.ServerWatch
	Clock     clock.Clock
	Interval  time.Duration
	// FullCycle is the least time one sweep takes: its steps are spread
	// over the passes of that time, and the next sweep starts FullCycle
	// after this one started. When a pass finds drift in what it looked at
	// (admissions or writes a node left half done: it died, and may have
	// left drift only a sweep shows), a sweep over everything runs once
	// PendingGrace has passed, at the pace the Budget allows.
	FullCycle time.Duration
	PageSize  int
	// Budget bounds the records one pass compares; the next pass goes on
	// from where this one stopped.
	Budget   int
	Drift    func(kind string)
	Repaired func(kind string)
	// Passed is told about each pass this node ran (metrics).
	Passed func()

	// Signals are for tests: Pass after each pass this node ran.
	Signals struct{ Pass loop.Signal[Report] }

	sweep sweep
	// seen holds the records the previous pass compared and found right,
	// at their revision: the next pass's changes overlap its own.
	seen map[string]int64
}

// Report sums up one pass.
type Report struct {
	Compared, Drift, Repaired int
}

// A pass reads the changes of [now - PendingGrace - changeSpan, now -
// PendingGrace): a revision is dated by its node's clock before its commit,
// which the grouped writer may delay, and the nodes' clocks differ; the
// lease may give two passes in a row to nodes an interval apart. A change
// lands in two passes; the second skips what the first found right.
func (r *Reconciler) changeSpan() time.Duration { return 2 * r.Interval }

// maxPendingTenants bounds the tenants of one pass's pending admissions;
// the next pass takes the others.
const maxPendingTenants = 1000

// Run reconciles every Interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	host, _ := os.Hostname()
	owner := host + ":" + strconv.Itoa(os.Getpid())
	if r.Watch != nil { // the first pass waits for the first restore check rather than skip its interval
		select {
		case <-ctx.Done():
			return nil
		case <-r.Watch.FirstTrust():
		}
	}
	return loop.Every(ctx, r.Interval, nil, func(ctx context.Context) {
		if r.Watch != nil && !r.Watch.Trusted() {
			return // the restore is the repair
		}
		w, err := r.plan(ctx)
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("reconcile pass failed", "err", err)
			}
			return
		}
		if w.idle() {
			return
		}
		ok, err := r.Hot.LeaseReconcile(ctx, owner, r.Interval)
		if err != nil || !ok {
			return
		}
		start := time.Now()
		rep, err := r.run(ctx, w)
		if err != nil && ctx.Err() == nil {
			slog.Warn("reconcile pass failed", "err", err)
		}
		slog.Debug("reconcile pass", "changed", len(w.changed), "pendingTenants", len(w.pending), "sweepSteps", w.steps,
			"compared", rep.Compared, "drift", rep.Drift, "repaired", rep.Repaired, "ms", time.Since(start).Milliseconds())
		if r.Passed != nil {
			r.Passed()
		}
		r.Signals.Pass.Send(rep)
	})
}

// Step runs one pass of Run, without the lease.
func (r *Reconciler) Step(ctx context.Context) (Report, error) {
	w, err := r.plan(ctx)
	if err != nil || w.idle() {
		return Report{}, err
	}
	return r.run(ctx, w)
}

// Pass runs one whole reconciliation: a sweep over everything, now.
func (r *Reconciler) Pass(ctx context.Context) (Report, error) {
	var rep Report
	s := sweep{}
	s.start(r.Clock.Now())
	for s.phase != sweepDone {
		if _, err := r.step(ctx, &rep, &s); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// work is what a pass has to look at.
type work struct {
	now          time.Time
	since, until time.Time            // changes in [since, until)
	pending      []string             // tenants whose pending deadline passed
	changed      []*callback.Callback // the first page of changes
	steps        int                  // sweep steps due
}

func (w work) idle() bool { return len(w.pending) == 0 && len(w.changed) == 0 && w.steps == 0 }

// plan finds what this pass has to do: one Redis command (the pending
// index) and one Postgres query (the changes).
func (r *Reconciler) plan(ctx context.Context) (work, error) {
	now := r.Clock.Now()
	w := work{now: now, until: now.Add(-redisstore.PendingGrace), steps: r.sweepSteps(now)}
	w.since = w.until.Add(-r.changeSpan())
	var err error
	if w.pending, err = r.Hot.PendingTenants(ctx, now, maxPendingTenants); err != nil {
		return w, err
	}
	w.changed, err = r.Durable.Changed(ctx, w.since, w.until, "", r.PageSize)
	return w, err
}

func (r *Reconciler) run(ctx context.Context, w work) (Report, error) {
	var rep Report
	for _, tenant := range w.pending {
		if err := r.pendingOf(ctx, &rep, tenant, w.now); err != nil {
			return rep, err
		}
		if err := r.Hot.ReindexPending(ctx, tenant); err != nil {
			return rep, err
		}
	}
	budget := r.Budget
	if budget <= 0 {
		budget = math.MaxInt
	}
	page, seen := w.changed, r.seen
	r.seen = map[string]int64{}
	for len(page) > 0 && budget > 0 {
		fresh := make([]*callback.Callback, 0, len(page))
		for _, d := range page {
			if rev, ok := seen[d.ID]; !ok || rev != d.Rev {
				fresh = append(fresh, d)
			}
		}
		drift := rep.Drift
		if err := r.compareAll(ctx, &rep, fresh); err != nil {
			return rep, err
		}
		if rep.Drift == drift {
			for _, d := range page {
				r.seen[d.ID] = d.Rev
			}
		}
		budget -= len(fresh)
		if len(page) < r.PageSize {
			break
		}
		var err error
		if page, err = r.Durable.Changed(ctx, w.since, w.until, page[len(page)-1].ID, r.PageSize); err != nil {
			return rep, err
		}
	}
	if rep.Drift > 0 && r.sweep.urgentAt.IsZero() {
		// Admissions or changes a node left half done: it died, and may
		// have left drift only a sweep finds. Sweep everything once its
		// last changes are past their grace.
		r.sweep.urgentAt = w.now.Add(redisstore.PendingGrace)
	}
	if !r.sweep.urgent && !r.sweep.urgentAt.IsZero() && !w.now.Before(r.sweep.urgentAt) {
		r.sweep.phase, r.sweep.urgent = sweepDone, true // start over, at full pace
		w.steps = math.MaxInt
	}
	for range w.steps {
		if budget <= 0 {
			break
		}
		if r.sweep.phase == sweepDone {
			r.sweep.start(w.now)
		}
		n, err := r.step(ctx, &rep, &r.sweep)
		if err != nil {
			return rep, err
		}
		budget -= max(n, 1)
		if r.sweep.phase == sweepDone {
			break
		}
	}
	return rep, nil
}

type sweepPhase int

const (
	sweepDone    sweepPhase = iota
	sweepDurable            // Postgres' non-final records, a page a step
	sweepTenants            // the tenants the indexes name
	sweepPending            // a tenant's pending admissions a step
	sweepTimers             // a page of a tenant's timers a step
)

// sweep is where this node's sweep stands.
type sweep struct {
	phase   sweepPhase
	tenants map[string]bool // with callbacks: live in Postgres, or in an index
	order   []string        // tenants, in the order the last phases take them
	tenant  int             // index in order (pending and timer phases)
	cursor  string          // durable phase: the next page starts after this id
	offset  int64           // timer phase: rank in the tenant's timers
	started time.Time
	steps   int // of this sweep
	last    int // steps of the previous sweep
	// urgent: this sweep runs at the pace the Budget allows; urgentAt:
	// such a sweep is due then.
	urgent   bool
	urgentAt time.Time
}

func (s *sweep) start(now time.Time) {
	if !s.started.IsZero() {
		s.last = s.steps
	}
	*s = sweep{phase: sweepDurable, tenants: map[string]bool{}, started: now, last: s.last, urgent: s.urgent, urgentAt: s.urgentAt}
}

// sweepSteps is how many sweep steps the pass at now takes: none before
// the next sweep is due, otherwise the share of the sweep that spreads it
// over FullCycle (the steps of the previous sweep, or of this one so far,
// tell its size). The node's first sweep, which also tells that size, and
// an urgent one take all the Budget allows (so does every sweep with a
// FullCycle not longer than the Interval: a whole sweep every pass).
func (r *Reconciler) sweepSteps(now time.Time) int {
	s := &r.sweep
	first := s.started.IsZero() || (s.last == 0 && s.phase != sweepDone)
	if first || s.urgent || (!s.urgentAt.IsZero() && !now.Before(s.urgentAt)) || r.FullCycle <= r.Interval {
		return math.MaxInt
	}
	if s.phase == sweepDone && !s.started.IsZero() && now.Sub(s.started) < r.FullCycle {
		return 0
	}
	passes := float64(r.FullCycle) / float64(r.Interval)
	return int(math.Ceil(float64(max(s.last, s.steps, 1)) / passes))
}

// step runs one step of a sweep: a page of Postgres' non-final records,
// the read of the indexes, the pending admissions of one tenant, or a page
// of one tenant's timers. It returns the records it compared.
func (r *Reconciler) step(ctx context.Context, rep *Report, s *sweep) (int, error) {
	n := 0
	switch s.phase {
	case sweepDone:
		return 0, nil
	case sweepDurable:
		page, err := r.Durable.LivePage(ctx, s.cursor, time.Time{}, r.PageSize)
		if err != nil {
			return 0, err
		}
		if err := r.compareAll(ctx, rep, page); err != nil {
			return len(page), err
		}
		n = len(page)
		for _, d := range page {
			s.tenants[d.Tenant] = true
		}
		if n < r.PageSize {
			s.phase = sweepTenants
		} else {
			s.cursor = page[n-1].ID
		}
	case sweepTenants:
		named, err := r.Hot.SweepTenants(ctx)
		if err != nil {
			return 0, err
		}
		for _, t := range named {
			s.tenants[t] = true
		}
		s.order = slices.Sorted(maps.Keys(s.tenants))
		s.phase, s.tenant = sweepPending, 0
	case sweepPending:
		if err := r.pendingOf(ctx, rep, s.order[s.tenant], r.Clock.Now()); err != nil {
			return 0, err
		}
		s.phase, s.offset = sweepTimers, 0
	case sweepTimers:
		var err error
		if n, err = r.timers(ctx, rep, s.order[s.tenant], s.offset); err != nil {
			return n, err
		}
		if n < r.PageSize {
			s.phase, s.tenant = sweepPending, s.tenant+1
		} else {
			s.offset += int64(r.PageSize)
		}
	}
	if s.phase == sweepPending && s.tenant == len(s.order) {
		s.phase, s.urgent, s.urgentAt = sweepDone, false, time.Time{}
	}
	s.steps++
	return n, nil
}

func (r *Reconciler) found(rep *Report, kind, tenant, id string, repair func() error) {
	rep.Drift++
	if r.Drift != nil {
		r.Drift(kind)
	}
	if err := repair(); err != nil {
		if !errors.Is(err, callback.ErrConflict) {
			slog.Warn("reconciler could not repair a callback", "kind", kind, "tenant", tenant, "id", id, "err", err)
		}
		return
	}
	rep.Repaired++
	slog.Info("reconciler repaired a callback", "kind", kind, "tenant", tenant, "id", id)
	if r.Repaired != nil {
		r.Repaired(kind)
	}
}

// pendingOf resolves a tenant's admissions past their deadline: commit
// found, the callback is activated; none, its reservations are released.
func (r *Reconciler) pendingOf(ctx context.Context, rep *Report, tenant string, now time.Time) error {
	ids, err := r.Hot.PendingExpired(ctx, tenant, now, r.PageSize)
	if err != nil || len(ids) == 0 {
		return err
	}
	durable, err := r.Durable.GetMany(ctx, tenant, ids)
	if err != nil {
		return err
	}
	hot, err := r.Hot.GetMany(ctx, tenant, ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if d, ok := durable[id]; ok {
			due, _ := callback.NextCheck(d, r.Callbacks.Policy)
			r.found(rep, "pending_committed", tenant, id, func() error { return r.Hot.Activate(ctx, d, due) })
			continue
		}
		cb := hot[i]
		if cb == nil {
			cb = &callback.Callback{ID: id, Tenant: tenant}
		}
		r.found(rep, "pending_orphan", tenant, id, func() error { return r.Hot.Forget(ctx, cb) })
	}
	return nil
}

// compareAll brings Redis to a page of Postgres records, tenant by tenant.
func (r *Reconciler) compareAll(ctx context.Context, rep *Report, page []*callback.Callback) error {
	byTenant := map[string][]*callback.Callback{}
	for _, d := range page {
		byTenant[d.Tenant] = append(byTenant[d.Tenant], d)
	}
	for tenant, ds := range byTenant {
		if err := r.compare(ctx, rep, tenant, ds); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) compare(ctx context.Context, rep *Report, tenant string, ds []*callback.Callback) error {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	hot, err := r.Hot.GetMany(ctx, tenant, ids)
	if err != nil {
		return err
	}
	now := r.Clock.Now()
	var agreed []string
	var dues []time.Time
	for i, d := range ds {
		rep.Compared++
		h := hot[i]
		if h != nil && h.Rev == d.Rev && !h.State.Final() && !d.State.Final() {
			if due, ok := callback.NextCheck(d, r.Callbacks.Policy); ok {
				agreed, dues = append(agreed, d.ID), append(dues, due)
			}
		}
		switch {
		case h == nil:
			if !d.State.Final() { // Redis keeps a completed record an hour only
				r.missing(ctx, rep, d)
			}
		case h.Rev == d.Rev && string(record.Encode(h)) != string(record.Encode(d)):
			r.found(rep, "content", tenant, d.ID, func() error { return r.Callbacks.Repair(ctx, h, d) })
		case h.Rev < d.Rev:
			r.found(rep, "redis_stale", tenant, d.ID, func() error { return r.Callbacks.Repair(ctx, h, d) })
		case h.Rev > d.Rev && now.Sub(h.Updated) >= redisstore.PendingGrace:
			// A change Redis took whose Postgres write never came (the node
			// died in between): Postgres is the truth.
			r.found(rep, "redis_ahead", tenant, d.ID, func() error { return r.Callbacks.Repair(ctx, h, d) })
		}
	}
	if len(agreed) == 0 {
		return nil
	}
	fixed, err := r.Hot.EnsureTimers(ctx, tenant, agreed, dues)
	for _, id := range fixed {
		r.found(rep, "no_timer", tenant, id, func() error { return nil })
	}
	return err
}

// missing handles a durable non-final callback Redis does not have: lost
// with Redis, it is put back; behind a tombstone, it is a create that was
// refused while its commit still landed, and it is completed in Postgres.
func (r *Reconciler) missing(ctx context.Context, rep *Report, d *callback.Callback) {
	if r.Clock.Now().Sub(d.Created) < redisstore.PendingGrace && d.Rev == 1 {
		return // an admission whose activation may still be under way
	}
	due, _ := callback.NextCheck(d, r.Callbacks.Policy)
	put, err := r.Hot.Restore(ctx, d, due)
	if err != nil {
		return
	}
	if put {
		r.found(rep, "missing", d.Tenant, d.ID, func() error { return nil })
		return
	}
	if _, err := r.Hot.Get(ctx, d.Tenant, d.ID); !errors.Is(err, callback.ErrNotFound) {
		return // written meanwhile, or Redis cannot say: the next pass looks again
	}
	r.found(rep, "refused_commit", d.Tenant, d.ID, func() error {
		done := d.Clone()
		callback.Complete(done, callback.ReasonNotAcknowledged)
		done.Rev, done.Updated = d.Rev+1, r.Clock.Now()
		return r.Durable.Save(ctx, done, callback.Event{At: done.Updated, Rev: done.Rev, State: done.State, Reason: done.Reason, Source: "reconciler"})
	})
}

// timers compares a page of a tenant's timers (waiting and claimed, from
// rank offset on) with Postgres, and repairs records Redis holds as live
// that Postgres has moved on from or never had. It returns how many ids
// the page had.
func (r *Reconciler) timers(ctx context.Context, rep *Report, tenant string, offset int64) (int, error) {
	ids, err := r.Hot.TimerPage(ctx, tenant, offset, int64(r.PageSize))
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	hot, err := r.Hot.GetMany(ctx, tenant, ids)
	if err != nil {
		return len(ids), err
	}
	revs, err := r.Durable.Revs(ctx, tenant, ids)
	if err != nil {
		return len(ids), err
	}
	now := r.Clock.Now()
	for i, id := range ids {
		h := hot[i]
		rev, durable := revs[id]
		switch {
		case h == nil:
		case !durable && now.Sub(h.Created) >= redisstore.PendingGrace:
			r.found(rep, "not_durable", tenant, id, func() error { return r.Hot.Forget(ctx, h) })
		case durable && rev > h.Rev:
			r.found(rep, "redis_stale", tenant, id, func() error {
				d, err := r.Durable.Get(ctx, tenant, id)
				if err != nil {
					return err
				}
				return r.Callbacks.Repair(ctx, h, d)
			})
		}
	}
	return len(ids), nil
}
