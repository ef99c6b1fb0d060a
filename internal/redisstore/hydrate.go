package redisstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
)

// ServerWatch notices, on every new connection, a Redis server that is not
// the one the last restore filled: a restart from an old snapshot or AOF, or
// a promoted replica, has a new run id. A reconnect is the first thing such
// a fault causes, so the node stops trusting Redis before it sends its first
// command to the new server.
type ServerWatch struct {
	mu      sync.Mutex
	trusted []string // run ids the restore marker names
	suspect atomic.Bool
	kick    chan struct{}
	first   chan struct{} // closed by the first Trust
	once    sync.Once
}

// NewServerWatch returns a watch that trusts nothing yet.
func NewServerWatch() *ServerWatch {
	return &ServerWatch{kick: make(chan struct{}, 1), first: make(chan struct{})}
}

// OnConnect is the connection hook of the Redis client (redis.Options).
// It never fails the connection: a server it cannot ask is checked by the
// restorer's next pass.
func (w *ServerWatch) OnConnect(ctx context.Context, cn *redis.Conn) error {
	info, err := cn.Info(ctx, "server").Result()
	if err != nil {
		return nil
	}
	id := runID(info)
	w.mu.Lock()
	unknown := id != "" && len(w.trusted) > 0 && !slices.Contains(w.trusted, id)
	w.mu.Unlock()
	if unknown {
		w.Distrust()
	}
	return nil
}

// Distrust marks Redis as not known to be complete and wakes the restorer.
func (w *ServerWatch) Distrust() {
	w.suspect.Store(true)
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Trust records the servers a restore (or a check) found complete.
func (w *ServerWatch) Trust(ids []string) {
	w.mu.Lock()
	w.trusted = slices.Clone(ids)
	w.mu.Unlock()
	w.suspect.Store(false)
	w.once.Do(func() { close(w.first) })
}

// FirstTrust is closed once Redis was first found (or made) complete.
func (w *ServerWatch) FirstTrust() <-chan struct{} { return w.first }

// Trusted reports whether Redis is known to hold every live callback.
func (w *ServerWatch) Trusted() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.trusted) > 0 && !w.suspect.Load()
}

// Kicks delivers a value when a connection met an unknown server.
func (w *ServerWatch) Kicks() <-chan struct{} { return w.kick }

func runID(info string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return v
		}
	}
	return ""
}

// forEachMaster runs fn on the single server, or on every master of a
// cluster.
func (s *Store) forEachMaster(ctx context.Context, fn func(context.Context, redis.Cmdable) error) error {
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return fn(ctx, n) })
	}
	return fn(ctx, s.rdb)
}

// RunIDs lists the run ids of the servers holding GES' keys, sorted.
func (s *Store) RunIDs(ctx context.Context) ([]string, error) {
	var mu sync.Mutex
	var ids []string
	err := s.forEachMaster(ctx, func(ctx context.Context, c redis.Cmdable) error {
		info, err := c.Info(ctx, "server").Result()
		if err != nil {
			return err
		}
		id := runID(info)
		if id == "" {
			return errors.New("redis INFO has no run_id")
		}
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		return nil
	})
	slices.Sort(ids)
	return ids, err
}

// Hydrated reports whether the restore marker names exactly the servers
// running now: false after a flush, a restart or a failover.
func (s *Store) Hydrated(ctx context.Context, ids []string) (bool, error) {
	v, err := s.rdb.Get(ctx, hydratedKey).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return v == strings.Join(ids, ","), nil
}

// MarkHydrated ends a restore of the servers ids.
func (s *Store) MarkHydrated(ctx context.Context, ids []string) error {
	return s.rdb.Set(ctx, hydratedKey, strings.Join(ids, ","), 0).Err()
}

// LockHydration lets one node restore; it returns false if another holds it.
func (s *Store) LockHydration(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	return s.rdb.SetNX(ctx, hydrateLockKey, owner, ttl).Result()
}

// UnlockHydration frees the restore lock.
func (s *Store) UnlockHydration(ctx context.Context) error {
	return s.rdb.Del(ctx, hydrateLockKey).Err()
}

// wipeBatch is how many keys one SCAN step returns and one UNLINK removes.
const wipeBatch = 2000

// Wipe removes every tenant key (records, timers, counters) and the timer
// index: after a restart from an old snapshot nothing in Redis can be
// trusted, and Postgres has the truth to restore. UI sessions and the
// restore lock are kept.
func (s *Store) Wipe(ctx context.Context) (int, error) {
	var n atomic.Int64
	err := s.forEachMaster(ctx, func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, tenantPattern, wipeBatch).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				// Keys of one scan step may sit in different slots of
				// this master; UNLINK them one slot-safe command each,
				// in one round trip.
				pipe := c.Pipeline()
				for _, k := range keys {
					pipe.Unlink(ctx, k)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					return err
				}
				n.Add(int64(len(keys)))
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	})
	if err != nil {
		return int(n.Load()), err
	}
	return int(n.Load()), s.rdb.Del(ctx, indexKey).Err()
}

// restoreChunk bounds the records of one script call, so a restore never
// blocks Redis for long.
const restoreChunk = 250

// RestoreMany puts back records read from Postgres, skipping those Redis
// has: one script call per tenant and chunk, all in one pipelined round
// trip, then each tenant's earliest timer announced once. dues[i] is the
// timer of cbs[i].
func (s *Store) RestoreMany(ctx context.Context, cbs []*callback.Callback, dues []time.Time) (int, error) {
	if len(cbs) == 0 {
		return 0, nil
	}
	now := s.clock.Now()
	byTenant := map[string][]int{}
	for i, cb := range cbs {
		byTenant[cb.Tenant] = append(byTenant[cb.Tenant], i)
	}
	type call struct {
		keys []string
		args []any
	}
	var calls []call
	earliest := map[string]time.Time{}
	for tenant, idx := range byTenant {
		for len(idx) > 0 {
			chunk := idx[:min(restoreChunk, len(idx))]
			idx = idx[len(chunk):]
			c := call{keys: []string{dueKey(tenant), activeKey(tenant), leaseKey(tenant), pendKey(tenant)}}
			for _, i := range chunk {
				keys, args := s.restoreArgs(cbs[i], dues[i], now)
				c.keys = append(c.keys, keys[0], keys[3])
				c.args = append(c.args, args...)
				if d := dues[i]; !d.IsZero() {
					if e, ok := earliest[tenant]; !ok || d.Before(e) {
						earliest[tenant] = d
					}
				}
			}
			calls = append(calls, c)
		}
	}
	run := func() ([]*redis.Cmd, error) {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, c := range calls {
			cmds[i] = restoreManyScript.EvalSha(ctx, pipe, c.keys, c.args...)
		}
		_, err := pipe.Exec(ctx)
		return cmds, err
	}
	cmds, err := run()
	put := 0
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// A server that lost its scripts (a restarted cluster master)
		// failed its calls; the others ran theirs: count those, and run
		// only the failed ones again.
		if err := restoreManyScript.Load(ctx, s.rdb).Err(); err != nil {
			return 0, err
		}
		var again []call
		for i, c := range cmds {
			if c.Err() != nil && redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
				again = append(again, calls[i])
			} else if n, e := c.Int(); e == nil {
				put += n
			}
		}
		calls = again
		cmds, err = run()
	}
	if err != nil {
		return put, err
	}
	for _, c := range cmds {
		n, _ := c.Int()
		put += n
	}
	// Announcing a timer that is already in the index costs nothing but a
	// ZADD LT; announcing one of a record that was skipped is early, never
	// late, which the index allows.
	for tenant, due := range earliest {
		if err := s.Announce(ctx, tenant, due); err != nil {
			return put, err
		}
	}
	return put, nil
}
