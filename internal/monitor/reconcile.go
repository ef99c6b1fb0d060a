package monitor

import (
	"context"
	"errors"
	"log/slog"
	"os"
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
// with Redis for every non-final callback and repairs any difference, and
// resolves admissions whose Postgres commit was never confirmed (a node
// died between the two). Every node runs it; a lease in Redis gives each
// interval's pass to one of them. Its cost is bounded by PageSize and
// Budget per pass.
type Reconciler struct {
	Hot       *redisstore.Store
	Durable   *pgstore.Store
	Callbacks *callback.Service
	Watch     *redisstore.ServerWatch
	Clock     clock.Clock
	// Tenants lists the contact centers to look at (pending admissions
	// and timers are per tenant).
	Tenants  func() []string
	Interval time.Duration
	PageSize int
	// Budget bounds the records one pass compares; the next pass goes on
	// from where this one stopped.
	Budget   int
	Drift    func(kind string)
	Repaired func(kind string)
	// Passed is told about each pass this node ran (metrics).
	Passed func()

	// Signals are for tests: Pass after each pass this node ran.
	Signals struct{ Pass loop.Signal[Report] }

	cursor string // next Postgres page starts after this id
}

// Report sums up one pass.
type Report struct {
	Compared, Drift, Repaired int
}

// Run reconciles every Interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	host, _ := os.Hostname()
	owner := host + ":" + strconv.Itoa(os.Getpid())
	return loop.Every(ctx, r.Interval, nil, func(ctx context.Context) {
		if r.Watch != nil && !r.Watch.Trusted() {
			return // the restore is the repair
		}
		ok, err := r.Hot.LeaseReconcile(ctx, owner, r.Interval)
		if err != nil || !ok {
			return
		}
		rep, err := r.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			slog.Warn("reconcile pass failed", "err", err)
		}
		if r.Passed != nil {
			r.Passed()
		}
		r.Signals.Pass.Send(rep)
	})
}

// Pass runs one reconciliation.
func (r *Reconciler) Pass(ctx context.Context) (Report, error) {
	var rep Report
	if err := r.pending(ctx, &rep); err != nil {
		return rep, err
	}
	if err := r.durableSide(ctx, &rep); err != nil {
		return rep, err
	}
	return rep, r.hotSide(ctx, &rep)
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

// pending resolves admissions past their deadline: commit found, the
// callback is activated; none, its reservations are released.
func (r *Reconciler) pending(ctx context.Context, rep *Report) error {
	now := r.Clock.Now()
	for _, tenant := range r.Tenants() {
		ids, err := r.Hot.PendingExpired(ctx, tenant, now, r.PageSize)
		if err != nil || len(ids) == 0 {
			if err != nil {
				return err
			}
			continue
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
	}
	return nil
}

// durableSide walks Postgres' non-final callbacks, a page at a time from
// where the last pass stopped, and brings Redis to them.
func (r *Reconciler) durableSide(ctx context.Context, rep *Report) error {
	for seen := 0; seen < r.Budget; {
		page, err := r.Durable.LivePage(ctx, r.cursor, time.Time{}, r.PageSize)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			r.cursor = ""
			return nil
		}
		byTenant := map[string][]*callback.Callback{}
		for _, d := range page {
			byTenant[d.Tenant] = append(byTenant[d.Tenant], d)
		}
		for tenant, ds := range byTenant {
			if err := r.compare(ctx, rep, tenant, ds); err != nil {
				return err
			}
		}
		seen += len(page)
		r.cursor = page[len(page)-1].ID
		if len(page) < r.PageSize {
			r.cursor = ""
			return nil
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
		if h != nil && h.Rev == d.Rev && !h.State.Final() {
			if due, ok := callback.NextCheck(d, r.Callbacks.Policy); ok {
				agreed, dues = append(agreed, d.ID), append(dues, due)
			}
		}
		switch {
		case h == nil:
			r.missing(ctx, rep, d)
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

// hotSide walks the timers of each tenant, bounded by the budget, and
// repairs records Redis holds as live that Postgres has moved on from or
// never had.
func (r *Reconciler) hotSide(ctx context.Context, rep *Report) error {
	now := r.Clock.Now()
	budget := r.Budget
	for _, tenant := range r.Tenants() {
		for offset := int64(0); budget > 0; offset += int64(r.PageSize) {
			ids, err := r.Hot.TimerPage(ctx, tenant, offset, int64(r.PageSize))
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			budget -= len(ids)
			hot, err := r.Hot.GetMany(ctx, tenant, ids)
			if err != nil {
				return err
			}
			revs, err := r.Durable.Revs(ctx, tenant, ids)
			if err != nil {
				return err
			}
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
		}
	}
	return nil
}
