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

// SweepTenants lists the tenants the indexes name: those with timers and
// those with pending admissions (one round trip of two commands). With the
// tenants of Postgres' live records they are all the reconciler's sweep
// needs to look at; a tenant without callbacks costs it nothing.
func (s *Store) SweepTenants(ctx context.Context) ([]string, error) {
	pipe := s.rdb.Pipeline()
	timed := pipe.ZRange(ctx, indexKey, 0, -1)
	pending := pipe.ZRange(ctx, pendIndexKey, 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	return append(timed.Val(), pending.Val()...), nil
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
// records that has none, and returns their ids. A record whose final state
// Redis holds keeps none: pass only records Postgres has as live. Nearly
// every record has a timer, so one pipeline of three ZMSCOREs (a command
// per set, not per record) finds the few that may not; only those go
// through the script, which decides atomically.
func (s *Store) EnsureTimers(ctx context.Context, tenant string, ids []string, dues []time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	sets := []*redis.FloatSliceCmd{pipe.ZMScore(ctx, dueKey(tenant), ids...),
		pipe.ZMScore(ctx, leaseKey(tenant), ids...), pipe.ZMScore(ctx, pendKey(tenant), ids...),
		pipe.ZMScore(ctx, heldKey(tenant), ids...)}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	keys := []string{dueKey(tenant), leaseKey(tenant), pendKey(tenant), heldKey(tenant)}
	var args []any
	var earliest time.Time
	for i, id := range ids {
		if sets[0].Val()[i] != 0 || sets[1].Val()[i] != 0 || sets[2].Val()[i] != 0 || sets[3].Val()[i] != 0 {
			continue // a timer, an admission still pending, or held by a pause
		}
		keys = append(keys, recordKey(tenant, id))
		args = append(args, id, score(dues[i]))
		if earliest.IsZero() || dues[i].Before(earliest) {
			earliest = dues[i]
		}
	}
	if len(args) == 0 {
		return nil, nil
	}
	fixed, err := timersScript.Run(ctx, s.rdb, keys, args...).StringSlice()
	if err != nil {
		return nil, err
	}
	if len(fixed) > 0 {
		return fixed, s.Announce(ctx, tenant, earliest)
	}
	return fixed, nil
}
