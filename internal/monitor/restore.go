package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/loop"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/redisstore"
)

// Restorer refills Redis from Postgres after Redis lost its data or came
// back with old data (a restart from an old snapshot or AOF, a failover,
// FLUSHALL), without an operator. Redis is complete when its restore marker
// names the run ids of the servers running now; the marker alone is never
// trusted, since a snapshot brings it back. One node at a time restores.
type Restorer struct {
	Hot      *redisstore.Store
	Durable  *pgstore.Store
	Watch    *redisstore.ServerWatch
	Policy   callback.Policy
	Clock    clock.Clock
	Interval time.Duration
	// Restored copies into Redis what else Postgres holds the truth of
	// (paused services), before Redis is trusted again (nil: nothing).
	AfterRestore func(ctx context.Context) error
	// Restored is told how many callbacks each restore put back.
	Restored func(n int)
	// Checked is told about each check (metrics).
	Checked func()

	// Signals are for tests: Checked after each check, with whether Redis
	// was found (or made) complete.
	Signals struct{ Checked loop.Signal[bool] }
}

// restorePage is how many records one Postgres read and one Redis pipeline
// carry.
const restorePage = 2000

// Run checks every Interval, and at once when a connection met an unknown
// Redis server, until ctx ends.
func (r *Restorer) Run(ctx context.Context) error {
	return loop.Every(ctx, r.Interval, r.Watch.Kicks(), func(ctx context.Context) {
		ok, err := r.Once(ctx)
		if err != nil && ctx.Err() == nil {
			slog.Warn("restore check failed", "err", err)
		}
		if r.Checked != nil {
			r.Checked()
		}
		r.Signals.Checked.Send(ok && err == nil)
	})
}

// Once restores if Redis is not known complete. ok reports that it is
// complete now.
func (r *Restorer) Once(ctx context.Context) (ok bool, err error) {
	ids, err := r.Hot.RunIDs(ctx)
	if err != nil {
		r.Watch.Distrust()
		return false, err
	}
	if ok, err := r.Hot.Hydrated(ctx, ids); err != nil || ok {
		if ok {
			r.Watch.Trust(ids)
		}
		return ok, err
	}
	r.Watch.Distrust()
	host, _ := os.Hostname()
	locked, err := r.Hot.LockHydration(ctx, host, 5*time.Minute)
	if err != nil || !locked {
		return false, err // another node restores; its marker ends the wait
	}
	defer r.Hot.UnlockHydration(context.WithoutCancel(ctx)) //nolint:errcheck
	if ok, err := r.Hot.Hydrated(ctx, ids); err != nil || ok {
		if ok {
			r.Watch.Trust(ids)
		}
		return ok, err
	}
	start := r.Clock.Now()
	wiped, err := r.Hot.Wipe(ctx)
	if err != nil {
		return false, err
	}
	n, err := r.restore(ctx, time.Time{})
	if err != nil {
		return false, err
	}
	// Creates and changes committed while the pages were read may have
	// landed behind the cursor: read them once more.
	more, err := r.restore(ctx, start.Add(-time.Second))
	if err != nil {
		return false, err
	}
	if r.AfterRestore != nil {
		if err := r.AfterRestore(ctx); err != nil {
			return false, err
		}
	}
	if err := r.Hot.MarkHydrated(ctx, ids); err != nil {
		return false, err
	}
	r.Watch.Trust(ids)
	slog.Info("redis restored from postgres", "callbacks", n+more, "keysRemoved", wiped, "took", r.Clock.Now().Sub(start).String())
	if r.Restored != nil {
		r.Restored(n + more)
	}
	return true, nil
}

// restoreReaders is how many parts of the id space are restored at once:
// decoding records and encoding script calls use the CPU of the node while
// Redis and Postgres work on the other parts.
const restoreReaders = 4

// restore copies every non-final record (changed since, when not zero)
// into Redis, each part of the id space by its own reader.
func (r *Restorer) restore(ctx context.Context, since time.Time) (int, error) {
	bounds := []string{""}
	for i := 1; i < restoreReaders; i++ {
		bounds = append(bounds, fmt.Sprintf("%08x-0000-0000-0000-000000000000", uint64(i)<<32/restoreReaders))
	}
	bounds = append(bounds, "")
	var total atomic.Int64
	errc := make(chan error, restoreReaders)
	for i := range restoreReaders {
		go func() {
			n, err := r.restoreRange(ctx, bounds[i], bounds[i+1], since)
			total.Add(int64(n))
			errc <- err
		}()
	}
	var err error
	for range restoreReaders {
		err = errors.Join(err, <-errc)
	}
	return int(total.Load()), err
}

// restoreRange copies the records with ids in (after, before].
func (r *Restorer) restoreRange(ctx context.Context, after, before string, since time.Time) (int, error) {
	n := 0
	for {
		page, err := r.Durable.LiveRange(ctx, after, before, since, restorePage)
		if err != nil || len(page) == 0 {
			return n, err
		}
		dues := make([]time.Time, len(page))
		for i, cb := range page {
			dues[i], _ = callback.NextCheck(cb, r.Policy)
		}
		put, err := r.Hot.RestoreMany(ctx, page, dues)
		n += put
		if err != nil || len(page) < restorePage {
			return n, err
		}
		after = page[len(page)-1].ID
	}
}

// Retention deletes records past the 14-day retention in small batches.
type Retention struct {
	Durable  *pgstore.Store
	Interval time.Duration
	Now      func() time.Time
}

// Run purges every Interval until ctx ends.
func (r *Retention) Run(ctx context.Context) error {
	return loop.Every(ctx, r.Interval, nil, func(ctx context.Context) {
		for {
			n, err := r.Durable.PurgeExpired(ctx, r.Now(), 1000)
			if err != nil {
				if ctx.Err() == nil {
					slog.Warn("retention purge failed", "err", err)
				}
				return
			}
			if n < 1000 {
				return
			}
		}
	})
}
