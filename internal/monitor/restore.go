package monitor

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/redisstore"
)

// Restorer refills Redis from Postgres after Redis lost its data (a
// restart without persistence, a failover to an empty replica, FLUSHALL),
// without an operator. A marker key tells whether Redis is complete; one
// node at a time restores.
type Restorer struct {
	Hot      *redisstore.Store
	Durable  *pgstore.Store
	Policy   callback.Policy
	Interval time.Duration
	// Restored is told how many callbacks each restore put back.
	Restored func(n int)
}

// Run checks the marker every Interval until ctx ends.
func (r *Restorer) Run(ctx context.Context) error {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		if err := r.Once(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("restore check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once restores if Redis is not complete.
func (r *Restorer) Once(ctx context.Context) error {
	ok, err := r.Hot.Hydrated(ctx)
	if err != nil || ok {
		return err
	}
	host, _ := os.Hostname()
	locked, err := r.Hot.LockHydration(ctx, host, 5*time.Minute)
	if err != nil || !locked {
		return err
	}
	defer r.Hot.UnlockHydration(context.WithoutCancel(ctx)) //nolint:errcheck
	n := 0
	start := time.Now()
	err = r.Durable.EachLive(ctx, func(cb *callback.Callback) error {
		due, _ := callback.NextCheck(cb, r.Policy)
		put, err := r.Hot.Restore(ctx, cb, due)
		if put {
			n++
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := r.Hot.MarkHydrated(ctx); err != nil {
		return err
	}
	slog.Info("redis restored from postgres", "callbacks", n, "took", time.Since(start).String())
	if r.Restored != nil {
		r.Restored(n)
	}
	return nil
}

// Retention deletes records past the 14-day retention in small batches.
type Retention struct {
	Durable  *pgstore.Store
	Interval time.Duration
	Now      func() time.Time
}

// Run purges every Interval until ctx ends.
func (r *Retention) Run(ctx context.Context) error {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		for {
			n, err := r.Durable.PurgeExpired(ctx, r.Now(), 1000)
			if err != nil {
				if ctx.Err() == nil {
					slog.Warn("retention purge failed", "err", err)
				}
				break
			}
			if n < 1000 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
