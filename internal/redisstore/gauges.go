package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Sizes counts the callbacks the monitors hold: waiting on a timer and
// claimed (in flight), over every tenant in the index. It costs one read
// of the index and one pipeline of two counts per tenant with timers, so
// it is read when the metrics are scraped, never on a timer.
func (s *Store) Sizes(ctx context.Context) (waiting, inflight int64, err error) {
	tenants, err := s.rdb.ZRange(ctx, indexKey, 0, -1).Result()
	if err != nil || len(tenants) == 0 {
		return 0, 0, err
	}
	pipe := s.rdb.Pipeline()
	due := make([]*redis.IntCmd, len(tenants))
	lease := make([]*redis.IntCmd, len(tenants))
	for i, t := range tenants {
		due[i] = pipe.ZCard(ctx, dueKey(t))
		lease[i] = pipe.ZCard(ctx, leaseKey(t))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, err
	}
	for i := range tenants {
		waiting += due[i].Val()
		inflight += lease[i].Val()
	}
	return waiting, inflight, nil
}
