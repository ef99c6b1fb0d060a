package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/record"
)

// Announce lowers the tenant's entry in the global index to due if that is
// earlier, and then wakes the monitors (see lowered).
func (s *Store) Announce(ctx context.Context, tenant string, due time.Time) error {
	n, err := s.rdb.ZAddArgs(ctx, indexKey, redis.ZAddArgs{LT: true, Ch: true,
		Members: []redis.Z{{Score: float64(due.UnixMilli()), Member: tenant}}}).Result()
	if err != nil {
		return unavailable(err)
	}
	if n > 0 {
		s.lowered(ctx, tenant)
	}
	return nil
}

// lowered wakes this node's monitor at once, in process, and tells the
// other nodes' (wakeChannel), which may be asleep until a later time: should
// this node die before it dispatches, another one does. It is called only
// when the index entry moved earlier, so a busy tenant, whose entry is due
// already, costs no message.
func (s *Store) lowered(ctx context.Context, tenant string) {
	s.Wake()
	// A lost message costs the other nodes a later look, not a callback.
	_ = s.rdb.Publish(ctx, wakeChannel, tenant).Err()
}

// Wake tells this node's monitor to look at the timers now.
func (s *Store) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Claimed is a batch a monitor claimed: the ids, their records (nil where
// a timer has no record), when each is due (never before now) and the
// tenant's earliest remaining timer (zero if none).
type Claimed struct {
	IDs     []string
	Records []*callback.Callback
	Due     []time.Time
	Next    time.Time
}

// ClaimRecords takes up to batch callbacks of a tenant due by horizon (at
// or after now) for this monitor until leaseEnd, with their records, in
// one round trip.
func (s *Store) ClaimRecords(ctx context.Context, tenant string, now, horizon, leaseEnd time.Time, batch int) (Claimed, error) {
	if horizon.Before(now) {
		horizon = now
	}
	res, err := claimScript.Run(ctx, s.rdb, []string{dueKey(tenant), leaseKey(tenant), recordKey(tenant, "")},
		now.UnixMilli(), leaseEnd.UnixMilli(), batch, horizon.UnixMilli()).Slice()
	if err != nil {
		return Claimed{}, unavailable(err)
	}
	var c Claimed
	for _, v := range res[0].([]any) {
		c.IDs = append(c.IDs, v.(string))
	}
	c.Records = make([]*callback.Callback, len(c.IDs))
	vals, _ := res[1].([]any)
	for i, v := range vals {
		if str, ok := v.(string); ok && i < len(c.IDs) {
			c.Records[i], _ = record.Parse(tenant, c.IDs[i], str)
		}
	}
	c.Due = make([]time.Time, len(c.IDs))
	dues, _ := res[2].([]any)
	for i := range c.Due {
		c.Due[i] = now
		if i < len(dues) {
			if t := parseScore(dues[i]); t.After(now) {
				c.Due[i] = t
			}
		}
	}
	for _, v := range res[3:] {
		if t := parseScore(v); !t.IsZero() && (c.Next.IsZero() || t.Before(c.Next)) {
			c.Next = t
		}
	}
	return c, nil
}

// RecordRevs returns the revision of each record of ids (-1 where there
// is none) without reading the records, in one round trip.
func (s *Store) RecordRevs(ctx context.Context, tenant string, ids []string) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = recordKey(tenant, id)
	}
	res, err := revsScript.Run(ctx, s.rdb, keys).StringSlice()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]int64, len(ids))
	for i := range out {
		out[i] = -1
		if i < len(res) {
			if r, ok := record.Rev(res[i]); ok {
				out[i] = r
			}
		}
	}
	return out, nil
}

// Claim is ClaimRecords of what is due now, without the records.
func (s *Store) Claim(ctx context.Context, tenant string, now, leaseEnd time.Time, batch int) (ids []string, next time.Time, err error) {
	c, err := s.ClaimRecords(ctx, tenant, now, now, leaseEnd, batch)
	return c.IDs, c.Next, err
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
	if at.IsZero() {
		return s.ReleaseMany(ctx, tenant, nil, []string{id})
	}
	return s.ReleaseMany(ctx, tenant, []Timer{{ID: id, At: at}}, []string{id})
}

// Timer is when a callback is looked at next.
type Timer struct {
	ID string
	At time.Time
}

// ReleaseMany ends a monitor's claims of a tenant's callbacks (claimed)
// in one round trip, after giving those in ts their timers back. A timer
// is only ever lowered (ZADD LT): a writer that changed a callback
// meanwhile may have set an earlier one, and the earlier wins; a look too
// early finds nothing to do. The claims end last, so a node that stops in
// between leaves them to expire, never a callback without a timer.
func (s *Store) ReleaseMany(ctx context.Context, tenant string, ts []Timer, claimed []string) error {
	if len(ts) == 0 && len(claimed) == 0 {
		return nil
	}
	var earliest time.Time
	zs := make([]redis.Z, 0, len(ts))
	for _, t := range ts {
		zs = append(zs, redis.Z{Score: float64(t.At.UnixMilli()), Member: t.ID})
		if earliest.IsZero() || t.At.Before(earliest) {
			earliest = t.At
		}
	}
	pipe := s.rdb.Pipeline()
	if len(zs) > 0 {
		pipe.ZAddArgs(ctx, dueKey(tenant), redis.ZAddArgs{LT: true, Members: zs})
	}
	if len(claimed) > 0 {
		ids := make([]any, len(claimed))
		for i, id := range claimed {
			ids[i] = id
		}
		pipe.ZRem(ctx, leaseKey(tenant), ids...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable(err)
	}
	if earliest.IsZero() {
		return nil
	}
	return s.Announce(ctx, tenant, earliest)
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

// Wakeups delivers a value each time the monitor should re-check its
// timers: an earlier timer was announced, on this node or another one. It
// listens to the other nodes until ctx ends.
func (s *Store) Wakeups(ctx context.Context) <-chan struct{} {
	sub := s.rdb.Subscribe(ctx, wakeChannel)
	go func() {
		defer sub.Close()
		ch := sub.Channel(redis.WithChannelHealthCheckInterval(subscriptionPing))
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
				s.Wake()
			}
		}
	}()
	return s.wake
}

// PublishSettings tells every node that the tenant published a new table.
func (s *Store) PublishSettings(ctx context.Context, tenant string) error {
	return s.rdb.Publish(ctx, SettingsChannel, tenant).Err()
}
