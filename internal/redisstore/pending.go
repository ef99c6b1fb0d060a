package redisstore

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
)

// Admitting is the store as the callback service writes through it: each
// admission also notes its tenant in the pending index, so the reconciler
// looks for expired admissions in the tenants that have some instead of
// asking every tenant every pass.
type Admitting struct{ *Store }

// Admit admits cb (Store.Admit), then notes the tenant. The note comes
// after the admission, so a reconciler that re-indexes the tenant
// meanwhile either sees the admission or leaves the note in place. An
// admission whose outcome is unknown (Redis did not answer) is noted too.
func (a Admitting) Admit(ctx context.Context, cb *callback.Callback, adm callback.Admission) error {
	deadline := a.clock.Now().Add(PendingGrace)
	// The note goes in the same round trip, after the script; a refused
	// admission leaves a note the reconciler drops.
	var note *redis.IntCmd
	err := a.Store.admit(ctx, cb, adm, func(pipe redis.Pipeliner) { note = a.notePending(ctx, pipe, cb.Tenant, deadline) })
	if err != nil && callback.KindOf(err) != callback.KindUnavailable {
		return err
	}
	if note == nil || note.Err() != nil { // not sent with the script: on its own
		if nerr := a.NotePending(ctx, cb.Tenant, deadline); nerr != nil {
			slog.Warn("could not note a pending admission; the reconciler's sweep will find it", "tenant", cb.Tenant, "id", cb.ID, "err", nerr)
		}
	}
	return err
}

// NotePending lowers the tenant's entry in the pending index to deadline
// if that is earlier.
func (s *Store) NotePending(ctx context.Context, tenant string, deadline time.Time) error {
	return s.notePending(ctx, s.rdb, tenant, deadline).Err()
}

func (s *Store) notePending(ctx context.Context, c redis.Cmdable, tenant string, deadline time.Time) *redis.IntCmd {
	return c.ZAddArgs(ctx, pendIndexKey, redis.ZAddArgs{LT: true,
		Members: []redis.Z{{Score: float64(deadline.UnixMilli()), Member: tenant}}})
}

// PendingTenants lists up to limit tenants whose earliest pending deadline
// may have passed: one command, whatever the number of tenants.
func (s *Store) PendingTenants(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.rdb.ZRangeByScore(ctx, pendIndexKey, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit)}).Result()
}

// ReindexPending sets the tenant's entry in the pending index to its
// earliest pending deadline, or removes it when nothing is pending. The
// entry is removed before the pending set is read: an admission noted
// meanwhile is either in what is read or noted again after the removal.
func (s *Store) ReindexPending(ctx context.Context, tenant string) error {
	if err := s.rdb.ZRem(ctx, pendIndexKey, tenant).Err(); err != nil {
		return err
	}
	zs, err := s.rdb.ZRangeWithScores(ctx, pendKey(tenant), 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return err
	}
	return s.NotePending(ctx, tenant, time.UnixMilli(int64(zs[0].Score)))
}
