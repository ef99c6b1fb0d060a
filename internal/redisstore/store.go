package redisstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
)

//go:embed lua/*.lua
var luaFS embed.FS

func script(name string) *redis.Script {
	b, err := luaFS.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(err)
	}
	return redis.NewScript(string(b))
}

var (
	admitScript   = script("admit")
	commitScript  = script("commit")
	claimScript   = script("claim")
	releaseScript = script("release")
	restoreScript = script("restore")
	forgetScript  = script("forget")
)

// FinalKeep is how long Redis keeps a completed record; after that reads
// are served from Postgres.
const FinalKeep = time.Hour

// Store is the Redis hot store.
type Store struct {
	rdb redis.UniversalClient
}

// New returns a store on rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Client exposes the connection for health checks.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

func score(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Admit inserts cb under the per-number limit, its slot's capacity and
// the service's rate windows, and announces its timer.
func (s *Store) Admit(ctx context.Context, cb *callback.Callback, a callback.Admission, due time.Time) error {
	now := time.Now()
	capArg := -1
	if cb.SlotStart > 0 {
		capArg = a.SlotTotal
	}
	keys := []string{recordKey(cb.Tenant, cb.ID), dueKey(cb.Tenant), activeKey(cb.Tenant), slotKey(cb.Tenant, cb.Service, cb.SlotStart)}
	args := []any{cb.ID, value(cb), score(due), a.MaxPerNumber, activeField(cb.Service, cb.Phone), capArg, cb.SlotStart + slotKeyTTL.Milliseconds()}
	windows := make([]time.Time, 2)
	for i := range 2 {
		if i < len(a.Throttles) && a.Throttles[i].Limit > 0 && a.Throttles[i].Window > 0 {
			w := a.Throttles[i].Window
			index := now.UnixMilli() / w.Milliseconds()
			windows[i] = time.UnixMilli((index + 1) * w.Milliseconds())
			keys = append(keys, rateKey(cb.Tenant, cb.Service, i+1, w, index))
			args = append(args, a.Throttles[i].Limit, windows[i].UnixMilli())
		} else {
			keys = append(keys, rateKey(cb.Tenant, cb.Service, i+1, 0, 0))
			args = append(args, 0, 0)
		}
	}
	res, err := admitScript.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return unavailable(err)
	}
	switch res {
	case "OK":
		return s.Announce(ctx, cb.Tenant, due)
	case "LIMIT":
		return &callback.Error{Kind: callback.KindThrottled, Counter: "CB_ENQUEUE_LIMIT_REACHED",
			Msg: fmt.Sprintf("Callback for phone number rejected: the limit of %d active callbacks for this number in service %s is reached", a.MaxPerNumber, cb.Service)}
	case "RATE1", "RATE2":
		i := int(res[4] - '1')
		t := a.Throttles[i]
		return &callback.Error{Kind: callback.KindThrottled, Counter: "CB_TTL_LIMIT_REACHED", RetryAfter: windows[i].Sub(now),
			Msg: fmt.Sprintf("Limit of %d callbacks for %s is reached for interval %ds.", t.Limit, cb.Service, int(t.Window.Seconds()))}
	case "FULL":
		return &callback.Error{Kind: callback.KindNoCapacity, Msg: "No capacity at the desired time"}
	case "EXISTS":
		return callback.ErrExists
	}
	return fmt.Errorf("admit: unexpected answer %q", res)
}

func unavailable(err error) error {
	return &callback.Error{Kind: callback.KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
}

// Get reads the live record.
func (s *Store) Get(ctx context.Context, tenant, id string) (*callback.Callback, error) {
	v, err := s.rdb.Get(ctx, recordKey(tenant, id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, callback.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return parseValue(tenant, id, v)
}

// GetMany reads several records of a tenant in one round trip; missing ones
// are nil.
func (s *Store) GetMany(ctx context.Context, tenant string, ids []string) ([]*callback.Callback, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = recordKey(tenant, id)
	}
	out := make([]*callback.Callback, len(ids))
	// One MGET: the keys of a tenant share a cluster slot.
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[i], _ = parseValue(tenant, ids[i], str)
		}
	}
	return out, nil
}

// Commit replaces prev by next if prev is still the current revision,
// and moves its capacity place as mv says.
func (s *Store) Commit(ctx context.Context, prev, next *callback.Callback, due time.Time, mv callback.SlotMove) error {
	dueArg, final, release, capArg := "", "0", "0", -1
	if !due.IsZero() {
		dueArg = score(due)
	}
	if next.State.Final() {
		final = "1"
	}
	if mv.Release && prev.SlotStart > 0 {
		release = "1"
	}
	if mv.Take && next.SlotStart > 0 {
		capArg = mv.Total
	}
	res, err := commitScript.Run(ctx, s.rdb,
		[]string{recordKey(next.Tenant, next.ID), dueKey(next.Tenant), leaseKey(next.Tenant), activeKey(next.Tenant),
			slotKey(prev.Tenant, prev.Service, prev.SlotStart), slotKey(next.Tenant, next.Service, next.SlotStart)},
		next.ID, prev.Rev, next.Rev, Encode(next), dueArg, final, int(FinalKeep.Seconds()),
		activeField(prev.Service, prev.Phone), activeField(next.Service, next.Phone),
		release, capArg, next.SlotStart+slotKeyTTL.Milliseconds()).Text()
	if err != nil {
		return unavailable(err)
	}
	switch res {
	case "OK":
		if !due.IsZero() {
			return s.Announce(ctx, next.Tenant, due)
		}
		return nil
	case "CONFLICT":
		return callback.ErrConflict
	case "MISSING":
		return callback.ErrNotFound
	case "FULL":
		return &callback.Error{Kind: callback.KindNoCapacity, Msg: "No capacity at the desired time"}
	}
	return fmt.Errorf("commit: unexpected answer %q", res)
}

// SlotsUsed counts the places taken in slots of a service.
func (s *Store) SlotsUsed(ctx context.Context, tenant, service string, starts []time.Time) ([]int, error) {
	out := make([]int, len(starts))
	if len(starts) == 0 {
		return out, nil
	}
	keys := make([]string, len(starts))
	for i, st := range starts {
		keys[i] = slotKey(tenant, service, st.UnixMilli())
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[i], _ = strconv.Atoi(str)
		}
	}
	return out, nil
}

// Forget removes a record whose durable write failed.
func (s *Store) Forget(ctx context.Context, cb *callback.Callback) error {
	slot := "0"
	if cb.SlotStart > 0 {
		slot = "1"
	}
	return forgetScript.Run(ctx, s.rdb,
		[]string{recordKey(cb.Tenant, cb.ID), dueKey(cb.Tenant), leaseKey(cb.Tenant), activeKey(cb.Tenant), slotKey(cb.Tenant, cb.Service, cb.SlotStart)},
		cb.ID, activeField(cb.Service, cb.Phone), slot).Err()
}

// Restore puts a record read from Postgres back, unless Redis has one.
func (s *Store) Restore(ctx context.Context, cb *callback.Callback, due time.Time) (bool, error) {
	dueArg, active := "", "0"
	if !due.IsZero() {
		dueArg = score(due)
	}
	if !cb.State.Final() {
		active = "1"
	}
	slot := "0"
	if active == "1" && cb.SlotStart > 0 && time.Now().Before(cb.Desired) {
		slot = "1"
	}
	n, err := restoreScript.Run(ctx, s.rdb,
		[]string{recordKey(cb.Tenant, cb.ID), dueKey(cb.Tenant), activeKey(cb.Tenant), slotKey(cb.Tenant, cb.Service, cb.SlotStart)},
		cb.ID, value(cb), dueArg, active, activeField(cb.Service, cb.Phone), slot, cb.SlotStart+slotKeyTTL.Milliseconds()).Int()
	if err != nil {
		return false, err
	}
	if n == 1 && !due.IsZero() {
		return true, s.Announce(ctx, cb.Tenant, due)
	}
	return n == 1, nil
}
