// Package monitor runs the background work that keeps callbacks moving:
// the dispatcher that hands due callbacks to ORS, the restore of Redis from
// Postgres after a Redis loss, and retention. Every node runs all of them;
// correctness never depends on there being exactly one.
package monitor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/voice"
)

// Dispatcher hands due callbacks to ORS through the Voice stream. It sleeps
// until the earliest timer of any tenant, or until a create announces an
// earlier one; it does not poll.
type Dispatcher struct {
	Store     *redisstore.Store
	Callbacks *callback.Service
	Stream    *voice.Stream
	Settings  *settings.Registry
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
}

// retryAfterFailure is when a failed hand-off is tried again.
const retryAfterFailure = 2 * time.Second

// Run dispatches until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	wake := d.Store.Wakeups(ctx)
	for {
		err := d.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		sleep := d.MaxIdle
		if err != nil {
			slog.Warn("monitor pass failed", "err", err)
			sleep = time.Second
		} else if next, ok, err := d.Store.NextWake(ctx); err == nil && ok {
			if until := time.Until(next); until < sleep {
				sleep = until
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

// pass handles every tenant with something due now.
func (d *Dispatcher) pass(ctx context.Context) error {
	now := d.Callbacks.Clock.Now()
	tenants, err := d.Store.DueTenants(ctx, now, 1000)
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
		now := d.Callbacks.Clock.Now()
		ids, next, err := d.Store.Claim(ctx, tenant, now, now.Add(d.Lease), d.Batch)
		if err != nil {
			return err
		}
		// A batch claimed is finished even when shutdown begins, so the
		// node hands every claimed callback off or back before it exits
		// instead of leaving it to the lease.
		d.handle(context.WithoutCancel(ctx), tenant, ids)
		if len(ids) < d.Batch {
			return d.Store.SetTenantNext(ctx, tenant, next)
		}
	}
	return nil
}

// handle processes claimed callbacks with a bounded number of workers.
func (d *Dispatcher) handle(ctx context.Context, tenant string, ids []string) {
	if len(ids) == 0 {
		return
	}
	cbs, err := d.Store.GetMany(ctx, tenant, ids)
	if err != nil {
		slog.Warn("monitor read failed", "tenant", tenant, "err", err)
		return // the leases expire and the callbacks are claimed again
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(d.Workers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if cbs[i] == nil {
					_ = d.Store.Release(ctx, tenant, ids[i], time.Time{})
					continue
				}
				d.one(ctx, cbs[i])
			}
		}()
	}
	for i := range ids {
		work <- i
	}
	close(work)
	wg.Wait()
}

func (d *Dispatcher) one(ctx context.Context, cb *callback.Callback) {
	now := d.Callbacks.Clock.Now()
	act := callback.Due(cb, now, d.Callbacks.Policy)
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

// release gives a claimed callback back to its timer (none: drop it).
func (d *Dispatcher) release(ctx context.Context, cb *callback.Callback, at time.Time) {
	if at.IsZero() {
		_ = d.Store.Release(ctx, cb.Tenant, cb.ID, time.Time{})
		return
	}
	if err := d.Store.Release(ctx, cb.Tenant, cb.ID, at); err == nil {
		_ = d.Store.Announce(ctx, cb.Tenant, at)
	}
}

func (d *Dispatcher) fail(ctx context.Context, cb *callback.Callback, reason string) {
	changed := false
	_, err := d.Callbacks.Update(ctx, cb.Tenant, cb.ID, "monitor", func(c *callback.Callback) (bool, error) {
		if a := callback.Due(c, d.Callbacks.Clock.Now(), d.Callbacks.Policy); a.Kind != callback.Fail {
			return false, nil
		}
		callback.Complete(c, reason)
		changed = true
		return true, nil
	})
	if err != nil {
		slog.Warn("monitor could not complete callback", "tenant", cb.Tenant, "id", cb.ID, "err", err)
	}
	if !changed {
		d.settle(ctx, cb)
	}
}

// settle releases a callback an update left unchanged (still in the lease
// set) back to its timer.
func (d *Dispatcher) settle(ctx context.Context, cb *callback.Callback) {
	cur, err := d.Store.Get(ctx, cb.Tenant, cb.ID)
	if err != nil {
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
	_, err := d.Stream.Submit(ctx, voice.Entry{Tenant: cb.Tenant, TenantName: name, Callback: cb, Service: svc,
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
	changed := false
	_, err = d.Callbacks.Update(ctx, cb.Tenant, cb.ID, "monitor", func(c *callback.Callback) (bool, error) {
		changed = false // a retried change starts over
		if c.State.Final() || c.Attempt >= attempt {
			return false, nil
		}
		if c.State == callback.Scheduled && c.Rev != cb.Rev {
			return false, nil // rescheduled meanwhile: the new timer decides
		}
		c.Attempt = attempt - 1
		callback.MarkHandedOff(c, now)
		changed = true
		return true, nil
	})
	if err != nil && !errors.Is(err, callback.ErrNotFound) {
		slog.Warn("monitor could not record hand-off", "tenant", cb.Tenant, "id", cb.ID, "err", err)
	}
	if !changed || err != nil {
		d.settle(ctx, cb)
	}
}
