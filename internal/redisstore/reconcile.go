package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// LeaseReconcile takes the reconciler's lease for ttl; false when another
// node holds it. Every node runs the reconciler, one pass per lease.
func (s *Store) LeaseReconcile(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	return s.rdb.SetNX(ctx, reconcileLeaseKey, owner, ttl).Result()
}

// PendingExpired lists up to limit admissions of a tenant whose Postgres
// commit was not confirmed by their deadline.
func (s *Store) PendingExpired(ctx context.Context, tenant string, now time.Time, limit int) ([]string, error) {
	return s.rdb.ZRangeByScore(ctx, pendKey(tenant), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit)}).Result()
}

// TimerPage lists the ids of a tenant's timers (waiting and claimed) from
// rank offset on, limit of each: the reconciler walks them to find records
// Redis believes live.
func (s *Store) TimerPage(ctx context.Context, tenant string, offset, limit int64) ([]string, error) {
	pipe := s.rdb.Pipeline()
	due := pipe.ZRange(ctx, dueKey(tenant), offset, offset+limit-1)
	lease := pipe.ZRange(ctx, leaseKey(tenant), offset, offset+limit-1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	return append(due.Val(), lease.Val()...), nil
}

// EnsureTimers gives a timer (dues[i], not zero) to each of a tenant's live
// records that has none, in one script call, and returns their ids. A
// record whose final state Redis holds keeps none: pass only records
// Postgres has as live.
func (s *Store) EnsureTimers(ctx context.Context, tenant string, ids []string, dues []time.Time) ([]string, error) {
	keys := []string{dueKey(tenant), leaseKey(tenant), pendKey(tenant)}
	args := make([]any, 0, 2*len(ids))
	for i, id := range ids {
		keys = append(keys, recordKey(tenant, id))
		args = append(args, id, score(dues[i]))
	}
	fixed, err := timersScript.Run(ctx, s.rdb, keys, args...).StringSlice()
	if err != nil {
		return nil, err
	}
	earliest := time.Time{}
	for i := range ids {
		if earliest.IsZero() || dues[i].Before(earliest) {
			earliest = dues[i]
		}
	}
	if len(fixed) > 0 {
		return fixed, s.Announce(ctx, tenant, earliest)
	}
	return fixed, nil
}
