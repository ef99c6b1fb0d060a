// Package monitor runs the background work that keeps callbacks moving:
// the dispatcher that hands due callbacks to ORS, the restore of Redis from
// Postgres after a Redis loss, the reconciler that repairs any difference
// between the two, and retention. Every node runs all of them; correctness
// never depends on there being exactly one.
package monitor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/loop"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/voice"
)

// Sessions asks ORS about a callback's session (diagnostics query).
type Sessions interface {
	Query(ctx context.Context, sid string) (map[string]any, error)
}

// Dispatcher hands due callbacks to ORS through the Voice stream. It sleeps
// until the earliest timer of any tenant, or until a create announces an
// earlier one; it does not poll. Before a hand-off it checks each record
// against Postgres: only a state that is durable is ever dialled.
type Dispatcher struct {
	Store     *redisstore.Store
	Durable   *pgstore.Store
	Watch     *redisstore.ServerWatch
	Callbacks *callback.Service
	Stream    *voice.Stream
	Settings  *settings.Registry
	// Sessions is ORS' session API (nil: sessions cannot be asked, a quiet
	// callback then waits for its TTL).
	Sessions Sessions
	// TenantName names a contact center in stream entries.
	TenantName func(ctx context.Context, ccid string) string
	GESURL     string
	Lease      time.Duration
	Batch      int
	Workers    int
	// MaxIdle bounds a sleep, as a safety net should a wake-up be lost.
	MaxIdle time.Duration
	// SubmitFailed is told about each failed hand-off (CB_SUBMIT_FAILED).
	SubmitFailed func()
	// Drift is told about each record found different in the two stores.
	Drift    func(kind string)
	Repaired func(kind string)

	// Signals are for tests: Pass after each pass over the due tenants.
	Signals struct{ Pass loop.Signal[struct{}] }
}

// retryAfterFailure is when a failed hand-off is tried again.
const retryAfterFailure = 2 * time.Second

// inFlightRetry is when a record whose change is being written to Postgres
// is looked at again.
const inFlightRetry = time.Second

// Run dispatches until ctx ends. The batch claimed when it ends is
// finished (handed off or given back), so a node that stops leaves nothing
// to the leases.
func (d *Dispatcher) Run(ctx context.Context) error {
	wake := d.Store.Wakeups(ctx)
	for {
		err := d.pass(ctx)
		d.Signals.Pass.Send(struct{}{})
		if ctx.Err() != nil {
			return nil
		}
		sleep := d.MaxIdle
		switch {
		case err != nil:
			slog.Warn("monitor pass failed", "err", err)
			sleep = time.Second
		case !d.trusted():
			sleep = time.Second // the restore wakes us when done
		default:
			if next, ok, err := d.Store.NextWake(ctx); err == nil && ok {
				if until := next.Sub(d.now()); until < sleep {
					sleep = until
				}
			}
		}
		if sleep <= 0 {
			continue
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (d *Dispatcher) now() time.Time { return d.Callbacks.Clock.Now() }

// trusted is false while Redis may hold an old snapshot's records: they
// would be repaired one by one at dispatch; the restore does it wholesale.
func (d *Dispatcher) trusted() bool { return d.Watch == nil || d.Watch.Trusted() }

// pass handles every tenant with something due now.
func (d *Dispatcher) pass(ctx context.Context) error {
	if !d.trusted() {
		return nil
	}
	tenants, err := d.Store.DueTenants(ctx, d.now(), 1000)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if err := d.tenant(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dispatcher) tenant(ctx context.Context, tenant string) error {
	for ctx.Err() == nil {
		now := d.now()
		ids, next, err := d.Store.Claim(ctx, tenant, now, now.Add(d.Lease), d.Batch)
		if err != nil {
			return err
		}
		// A batch claimed is finished even when shutdown begins, so the
		// node hands every claimed callback off or back before it exits
		// instead of leaving it to the lease. Each step is bounded.
		d.handle(context.WithoutCancel(ctx), tenant, ids)
		if len(ids) < d.Batch {
			return d.Store.SetTenantNext(ctx, tenant, next)
		}
	}
	return nil
}

// stepTimeout bounds the work on one claimed batch, so shutdown waits for
// it a bounded time.
const stepTimeout = 10 * time.Second

// handle processes claimed callbacks with a bounded number of workers.
func (d *Dispatcher) handle(ctx context.Context, tenant string, ids []string) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	cbs, err := d.Store.GetMany(ctx, tenant, ids)
	if err != nil {
		slog.Warn("monitor read failed", "tenant", tenant, "err", err)
		return // the leases expire and the callbacks are claimed again
	}
	revs, err := d.Durable.Revs(ctx, tenant, ids)
	if err != nil {
		// Without Postgres nothing can be confirmed: nothing is dialled.
		slog.Warn("monitor could not check callbacks against postgres", "tenant", tenant, "err", err)
		for _, id := range ids {
			d.releaseAt(ctx, tenant, id, d.now().Add(retryAfterFailure))
		}
		return
	}
	b := &batch{d: d}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(d.Workers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				d.checked(ctx, b, tenant, ids[i], cbs[i], revs)
			}
		}()
	}
	for i := range ids {
		work <- i
	}
	close(work)
	wg.Wait()
}

// batch holds what the callbacks of one claim share: how far ORS read the
// stream, asked once.
type batch struct {
	d     *Dispatcher
	once  sync.Once
	reads voice.Reads
	err   error
}

func (b *batch) entryRead(ctx context.Context, entry string) (bool, error) {
	b.once.Do(func() { b.reads, b.err = b.d.Stream.Reads(ctx) })
	return b.reads.Read(entry), b.err
}

// checked compares a claimed record with its durable revision and acts on
// it only when both agree.
func (d *Dispatcher) checked(ctx context.Context, b *batch, tenant, id string, cb *callback.Callback, revs map[string]int64) {
	rev, durable := revs[id]
	now := d.now()
	switch {
	case cb == nil && !durable:
		d.releaseAt(ctx, tenant, id, time.Time{}) // a timer without a record
	case cb == nil:
		d.drift(ctx, "missing", tenant, id, func() error { return d.restoreOne(ctx, tenant, id) })
		d.releaseAt(ctx, tenant, id, time.Time{})
	case !durable:
		// Redis only: an admission whose commit never came, or a record of
		// an old snapshot. Young ones may still be committing.
		if now.Sub(cb.Created) < redisstore.PendingGrace {
			d.releaseAt(ctx, tenant, id, now.Add(inFlightRetry))
			return
		}
		d.drift(ctx, "not_durable", tenant, id, func() error { return d.Store.Forget(ctx, cb) })
	case rev < cb.Rev && now.Sub(cb.Updated) < redisstore.PendingGrace:
		d.releaseAt(ctx, tenant, id, now.Add(inFlightRetry)) // its Postgres write is under way
	case rev != cb.Rev:
		kind := "redis_stale"
		if rev < cb.Rev {
			kind = "redis_ahead"
		}
		d.drift(ctx, kind, tenant, id, func() error { return d.repair(ctx, cb) })
	default:
		d.one(ctx, b, cb)
	}
}

// drift counts and logs a difference between the stores and repairs it.
func (d *Dispatcher) drift(ctx context.Context, kind, tenant, id string, repair func() error) {
	if d.Drift != nil {
		d.Drift(kind)
	}
	if err := repair(); err != nil {
		slog.Warn("could not repair a callback that differs between postgres and redis", "kind", kind, "tenant", tenant, "id", id, "err", err)
		d.releaseAt(ctx, tenant, id, d.now().Add(retryAfterFailure))
		return
	}
	slog.Info("repaired a callback that differed between postgres and redis", "kind", kind, "tenant", tenant, "id", id)
	if d.Repaired != nil {
		d.Repaired(kind)
	}
}

// repair brings a Redis record to its durable state (the truth).
func (d *Dispatcher) repair(ctx context.Context, hot *callback.Callback) error {
	pg, err := d.Durable.Get(ctx, hot.Tenant, hot.ID)
	if err != nil {
		return err
	}
	return d.Callbacks.Repair(ctx, hot, pg)
}

func (d *Dispatcher) restoreOne(ctx context.Context, tenant, id string) error {
	pg, err := d.Durable.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	due, _ := callback.NextCheck(pg, d.Callbacks.Policy)
	_, err = d.Store.Restore(ctx, pg, due)
	return err
}

func (d *Dispatcher) one(ctx context.Context, b *batch, cb *callback.Callback) {
	now := d.now()
	p := d.Callbacks.Policy
	act := callback.Due(cb, now, p)
	switch act.Kind {
	case callback.Unanswered:
		read, err := b.entryRead(ctx, cb.Entry)
		if err != nil {
			// The Voice Redis cannot say: resubmitting could start a
			// second session, so wait.
			d.release(ctx, cb, now.Add(retryAfterFailure))
			return
		}
		held := false
		if read {
			if held, err = d.Stream.Held(ctx, cb.Entry); err != nil {
				d.release(ctx, cb, now.Add(retryAfterFailure))
				return
			}
		}
		act = callback.AfterSilence(cb, read, held, now, p)
	case callback.Probe:
		act = callback.Probed(cb, d.session(ctx, cb), now, p)
	}
	switch act.Kind {
	case callback.Drop:
		d.release(ctx, cb, time.Time{})
	case callback.Wait:
		d.release(ctx, cb, act.At)
	case callback.Fail:
		d.fail(ctx, cb, act.Reason)
	case callback.Handoff:
		d.handoff(ctx, cb, now)
	}
}

// session asks ORS whether the callback's session still runs.
func (d *Dispatcher) session(ctx context.Context, cb *callback.Callback) callback.SessionStatus {
	if d.Sessions == nil || cb.Session == "" {
		return callback.SessionUnknown
	}
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := d.Sessions.Query(qctx, cb.Session)
	switch {
	case err == nil:
		return callback.SessionAlive
	case errors.Is(err, voice.ErrNotFound):
		return callback.SessionGone
	default:
		slog.Warn("could not ask ORS about a callback's session", "id", cb.ID, "session", cb.Session, "err", err)
		return callback.SessionUnknown
	}
}

// release gives a claimed callback back to its timer (none: drop it).
func (d *Dispatcher) release(ctx context.Context, cb *callback.Callback, at time.Time) {
	d.releaseAt(ctx, cb.Tenant, cb.ID, at)
}

func (d *Dispatcher) releaseAt(ctx context.Context, tenant, id string, at time.Time) {
	if err := d.Store.Release(ctx, tenant, id, at); err == nil && !at.IsZero() {
		_ = d.Store.Announce(ctx, tenant, at)
	}
}

func (d *Dispatcher) fail(ctx context.Context, cb *callback.Callback, reason string) {
	changed := false
	_, err := d.Callbacks.Update(ctx, cb.Tenant, cb.ID, "monitor", func(c *callback.Callback) (bool, error) {
		changed = c.Rev == cb.Rev // decided on this revision only
		if changed {
			callback.Complete(c, reason)
		}
		return changed, nil
	})
	if err != nil {
		slog.Warn("monitor could not complete callback", "tenant", cb.Tenant, "id", cb.ID, "err", err)
	}
	if err != nil || !changed {
		d.settle(ctx, cb)
		return
	}
	// An entry ORS has not read must not start a call for a callback that
	// is over.
	if _, err := d.Stream.Withdraw(ctx, cb.Entry); err != nil {
		slog.Warn("could not withdraw the stream entry of a completed callback", "id", cb.ID, "err", err)
	}
}

// settle releases a callback an update left unchanged (still in the lease
// set) back to its timer.
func (d *Dispatcher) settle(ctx context.Context, cb *callback.Callback) {
	cur, err := d.Store.Get(ctx, cb.Tenant, cb.ID)
	if err != nil {
		d.release(ctx, cb, d.now().Add(retryAfterFailure))
		return
	}
	at, _ := callback.NextCheck(cur, d.Callbacks.Policy)
	d.release(ctx, cur, at)
}

func (d *Dispatcher) handoff(ctx context.Context, cb *callback.Callback, now time.Time) {
	svc, ok := d.Settings.Service(cb.Tenant, cb.Service)
	if !ok {
		d.fail(ctx, cb, "FAIL_TARGET_NOT_FOUND")
		return
	}
	attempt := cb.Attempt + 1
	name := ""
	if d.TenantName != nil {
		name = d.TenantName(ctx, cb.Tenant)
	}
	entry, added, err := d.Stream.Submit(ctx, voice.Entry{Tenant: cb.Tenant, TenantName: name, Callback: cb, Service: svc,
		GESURL: d.GESURL, Attempt: attempt, Now: now})
	if err != nil {
		slog.Error("callback hand-off to ORS failed", "tenant", cb.Tenant, "id", cb.ID, "attempt", attempt, "err", err)
		if d.SubmitFailed != nil {
			d.SubmitFailed()
		}
		d.release(ctx, cb, now.Add(retryAfterFailure))
		return
	}
	// The entry is on the stream: record the attempt. ORS may already have
	// reported (its report then wins the race); the submission time is the
	// time before the entry existed, so such a report counts as an answer.
	// Should the record fail (Postgres refuses), the callback stays due and
	// the next try of the same attempt finds the entry already there.
	changed := false
	_, err = d.Callbacks.Update(ctx, cb.Tenant, cb.ID, "monitor", func(c *callback.Callback) (bool, error) {
		changed = false // a retried change starts over
		if c.State.Final() || c.Attempt >= attempt {
			return false, nil
		}
		if c.Rev != cb.Rev && c.Reported.Before(now) {
			return false, nil // changed meanwhile, not by ORS answering this entry: the new state decides
		}
		c.Attempt = attempt - 1
		callback.MarkHandedOff(c, entry, now)
		changed = true
		return true, nil
	})
	if err != nil && !errors.Is(err, callback.ErrNotFound) {
		slog.Warn("monitor could not record hand-off", "tenant", cb.Tenant, "id", cb.ID, "err", err)
	}
	if err == nil && !changed && added {
		// The record moved on (rescheduled, cancelled, or ORS woke up on
		// the earlier attempt): the entry just added must not start a call.
		if _, werr := d.Stream.Withdraw(ctx, entry); werr != nil {
			slog.Warn("could not withdraw a stream entry the callback no longer needs", "id", cb.ID, "err", werr)
		}
	}
	if !changed || err != nil {
		d.settle(ctx, cb)
	}
}
