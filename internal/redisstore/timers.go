package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Announce lowers the tenant's entry in the global index to due if that is
// earlier, and wakes the sleeping monitors when it did.
func (s *Store) Announce(ctx context.Context, tenant string, due time.Time) error {
	n, err := s.rdb.ZAddArgs(ctx, indexKey, redis.ZAddArgs{LT: true, Ch: true,
		Members: []redis.Z{{Score: float64(due.UnixMilli()), Member: tenant}}}).Result()
	if err != nil {
		return unavailable(err)
	}
	if n > 0 {
		return s.rdb.Publish(ctx, wakeChannel, tenant).Err()
	}
	return nil
}

// Claim takes up to batch due callbacks of a tenant for this monitor until
// leaseEnd. next is the tenant's earliest remaining timer (zero if none).
func (s *Store) Claim(ctx context.Context, tenant string, now, leaseEnd time.Time, batch int) (ids []string, next time.Time, err error) {
	res, err := claimScript.Run(ctx, s.rdb, []string{dueKey(tenant), leaseKey(tenant)},
		now.UnixMilli(), leaseEnd.UnixMilli(), batch).Slice()
	if err != nil {
		return nil, time.Time{}, err
	}
	for _, v := range res[0].([]any) {
		ids = append(ids, v.(string))
	}
	for _, v := range res[1:] {
		if t := parseScore(v); !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return ids, next, nil
}

func parseScore(v any) time.Time {
	s, _ := v.(string)
	if s == "" {
		return time.Time{}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(f)).UTC()
}

// Release gives a claimed callback back to the timers at the given time.
func (s *Store) Release(ctx context.Context, tenant, id string, at time.Time) error {
	if at.IsZero() { // nothing left to wait for
		return s.rdb.ZRem(ctx, leaseKey(tenant), id).Err()
	}
	return releaseScript.Run(ctx, s.rdb, []string{dueKey(tenant), leaseKey(tenant)}, id, score(at)).Err()
}

// DueTenants lists tenants whose earliest timer is at or before now.
func (s *Store) DueTenants(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.rdb.ZRangeByScore(ctx, indexKey, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit)}).Result()
}

// NextWake returns the earliest timer of all tenants.
func (s *Store) NextWake(ctx context.Context) (time.Time, bool, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, indexKey, 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return time.Time{}, false, err
	}
	return time.UnixMilli(int64(zs[0].Score)).UTC(), true, nil
}

// SetTenantNext records a tenant's next timer after a monitor pass. Because
// a create may have announced an earlier timer meanwhile, it re-reads the
// tenant's sets afterwards and lowers the entry again if needed: the index
// may be early, never late.
func (s *Store) SetTenantNext(ctx context.Context, tenant string, next time.Time) error {
	var err error
	if next.IsZero() {
		err = s.rdb.ZRem(ctx, indexKey, tenant).Err()
	} else {
		err = s.rdb.ZAdd(ctx, indexKey, redis.Z{Score: float64(next.UnixMilli()), Member: tenant}).Err()
	}
	if err != nil {
		return err
	}
	earliest, ok, err := s.tenantEarliest(ctx, tenant)
	if err != nil || !ok {
		return err
	}
	if next.IsZero() || earliest.Before(next) {
		return s.Announce(ctx, tenant, earliest)
	}
	return nil
}

func (s *Store) tenantEarliest(ctx context.Context, tenant string) (time.Time, bool, error) {
	var best time.Time
	for _, k := range []string{dueKey(tenant), leaseKey(tenant)} {
		zs, err := s.rdb.ZRangeWithScores(ctx, k, 0, 0).Result()
		if err != nil {
			return time.Time{}, false, err
		}
		if len(zs) > 0 {
			t := time.UnixMilli(int64(zs[0].Score)).UTC()
			if best.IsZero() || t.Before(best) {
				best = t
			}
		}
	}
	return best, !best.IsZero(), nil
}

// Wakeups delivers a value each time a monitor should re-check its timers
// (an earlier timer was announced). It stops when ctx ends.
func (s *Store) Wakeups(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	sub := s.rdb.Subscribe(ctx, wakeChannel)
	go func() {
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}

// Sizes counts the callbacks the monitors hold: waiting on a timer and
// claimed (in flight), over every tenant in the index.
func (s *Store) Sizes(ctx context.Context) (waiting, inflight int64, err error) {
	tenants, err := s.rdb.ZRange(ctx, indexKey, 0, -1).Result()
	if err != nil {
		return 0, 0, err
	}
	for _, t := range tenants {
		w, err1 := s.rdb.ZCard(ctx, dueKey(t)).Result()
		f, err2 := s.rdb.ZCard(ctx, leaseKey(t)).Result()
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, err
		}
		waiting += w
		inflight += f
	}
	return waiting, inflight, nil
}

// PublishSettings tells every node that the tenant published a new table.
func (s *Store) PublishSettings(ctx context.Context, tenant string) error {
	return s.rdb.Publish(ctx, SettingsChannel, tenant).Err()
}

// SettingsChanges delivers the tenants whose tables changed.
func (s *Store) SettingsChanges(ctx context.Context) <-chan string {
	out := make(chan string, 16)
	sub := s.rdb.Subscribe(ctx, SettingsChannel)
	go func() {
		defer sub.Close()
		defer close(out)
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
