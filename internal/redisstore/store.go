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

// Admit inserts cb under the per-number limit and announces its timer.
func (s *Store) Admit(ctx context.Context, cb *callback.Callback, a callback.Admission, due time.Time) error {
	res, err := admitScript.Run(ctx, s.rdb,
		[]string{recordKey(cb.Tenant, cb.ID), dueKey(cb.Tenant), activeKey(cb.Tenant)},
		cb.ID, value(cb), score(due), a.MaxPerNumber, activeField(cb.Service, cb.Phone)).Text()
	if err != nil {
		return unavailable(err)
	}
	switch res {
	case "OK":
		return s.Announce(ctx, cb.Tenant, due)
	case "LIMIT":
		return &callback.Error{Kind: callback.KindThrottled, Counter: "CB_ENQUEUE_LIMIT_REACHED",
			Msg: fmt.Sprintf("Callback for phone number rejected: the limit of %d active callbacks for this number in service %s is reached", a.MaxPerNumber, cb.Service)}
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

// Commit replaces prev by next if prev is still the current revision.
func (s *Store) Commit(ctx context.Context, prev, next *callback.Callback, due time.Time) error {
	dueArg, final := "", "0"
	if !due.IsZero() {
		dueArg = score(due)
	}
	if next.State.Final() {
		final = "1"
	}
	res, err := commitScript.Run(ctx, s.rdb,
		[]string{recordKey(next.Tenant, next.ID), dueKey(next.Tenant), leaseKey(next.Tenant), activeKey(next.Tenant)},
		next.ID, prev.Rev, next.Rev, Encode(next), dueArg, final, int(FinalKeep.Seconds()),
		activeField(prev.Service, prev.Phone), activeField(next.Service, next.Phone)).Text()
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
	}
	return fmt.Errorf("commit: unexpected answer %q", res)
}

// Forget removes a record whose durable write failed.
func (s *Store) Forget(ctx context.Context, cb *callback.Callback) error {
	return forgetScript.Run(ctx, s.rdb,
		[]string{recordKey(cb.Tenant, cb.ID), dueKey(cb.Tenant), leaseKey(cb.Tenant), activeKey(cb.Tenant)},
		cb.ID, activeField(cb.Service, cb.Phone)).Err()
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
	n, err := restoreScript.Run(ctx, s.rdb,
		[]string{recordKey(cb.Tenant, cb.ID), dueKey(cb.Tenant), activeKey(cb.Tenant)},
		cb.ID, value(cb), dueArg, active, activeField(cb.Service, cb.Phone)).Int()
	if err != nil {
		return false, err
	}
	if n == 1 && !due.IsZero() {
		return true, s.Announce(ctx, cb.Tenant, due)
	}
	return n == 1, nil
}
