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
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/fault"
	"github.com/gesgo/ges/internal/record"
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
	activateScript    = script("activate")
	admitScript       = script("admit")
	commitScript      = script("commit")
	commitRecords     = script("commit_records")
	claimScript       = script("claim")
	restoreScript     = script("restore")
	restoreManyScript = script("restore_many")
	timersScript      = script("timers")
	forgetScript      = script("forget")
	revsScript        = script("revs")
	holdScript        = script("hold")
	resumeScript      = script("resume")
)

// FinalKeep is how long Redis keeps a completed record; after that reads
// are served from Postgres.
const FinalKeep = time.Hour

// PendingGrace is how long an admitted callback may wait for its Postgres
// commit before the reconciler resolves it: well past the durable write
// timeout, so a slow commit is never taken for an orphan.
const PendingGrace = 30 * time.Second

// TombstoneKeep is how long the id of a refused create stays reserved.
const TombstoneKeep = 24 * time.Hour

// Store is the Redis hot store.
type Store struct {
	rdb   redis.UniversalClient
	clock clock.Clock
	wake  chan struct{}
	pipes *sharedPipes
	// InlineUserData is the most user data (bytes) a record keeps in
	// Redis; larger user data stays in Postgres only (0: any size).
	InlineUserData int
}

// DefaultInlineUserData is the size above which user data is kept out of
// Redis: a few form fields stay in memory, documents do not.
const DefaultInlineUserData = 1024

// New returns a store on rdb.
func New(rdb redis.UniversalClient, clk clock.Clock) *Store {
	return &Store{rdb: rdb, clock: clk, wake: make(chan struct{}, 1), pipes: &sharedPipes{rdb: rdb}, InlineUserData: DefaultInlineUserData}
}

func (s *Store) value(cb *callback.Callback) string { return record.Value(cb, s.InlineUserData) }

// Client exposes the connection for health checks.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

func score(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Admit inserts cb, pending, under the per-number limit, its slot's
// capacity and the service's rate windows.
func (s *Store) Admit(ctx context.Context, cb *callback.Callback, a callback.Admission) error {
	return s.admit(ctx, cb, a, nil)
}

// admit is Admit; also (nil: none) adds commands to send after the
// script in the same round trip.
func (s *Store) admit(ctx context.Context, cb *callback.Callback, a callback.Admission, also func(redis.Pipeliner)) error {
	now := s.clock.Now()
	capArg := -1
	if cb.SlotStart > 0 {
		capArg = a.SlotTotal
	}
	keys := []string{recordKey(cb.Tenant, cb.ID), pendKey(cb.Tenant), activeKey(cb.Tenant), slotKey(cb.Tenant, cb.Service, cb.SlotStart)}
	args := []any{cb.ID, s.value(cb), score(now.Add(PendingGrace)), a.MaxPerNumber, activeField(cb.Service, cb.Phone), capArg, cb.SlotStart + slotKeyTTL.Milliseconds()}
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
	dayEnd := int64(0)
	if a.Daily.Limit > 0 {
		dayEnd = a.Daily.Ends.UnixMilli()
	}
	keys = append(keys, dailyKey(cb.Tenant, cb.Service, cb.Phone, a.Daily.Day))
	args = append(args, queueArg(cb), a.MaxQueued, a.Daily.Limit, dayEnd)
	var run *redis.Cmd
	// Concurrent admissions share round trips (see sharedPipes).
	_, err := s.pipes.exec(ctx, []*redis.Script{admitScript}, func(pipe redis.Pipeliner) {
		run = admitScript.EvalSha(ctx, pipe, keys, args...)
		if also != nil {
			also(pipe)
		}
	})
	res, rerr := run.Text()
	if err == nil || rerr != nil {
		err = rerr
	}
	if err != nil {
		return unavailable(err)
	}
	switch res {
	case "OK":
		return nil
	case "LIMIT":
		return &callback.Error{Kind: callback.KindThrottled, Limit: fault.PerNumber,
			Msg: fmt.Sprintf("Callback for phone number rejected: the limit of %d active callbacks for this number in service %s is reached", a.MaxPerNumber, cb.Service)}
	case "RATE1", "RATE2":
		i := int(res[4] - '1')
		t := a.Throttles[i]
		return &callback.Error{Kind: callback.KindThrottled, Limit: fault.Rate, RetryAfter: windows[i].Sub(now),
			// The GMS text, which GMS clients and test suites match on.
			Msg: fmt.Sprintf("Limit of queued callbacks for %s is reached for interval %ds.", cb.Service, int(t.Window.Seconds()))}
	case "QUEUED":
		// The GMS text, which GMS clients and test suites match on.
		return &callback.Error{Kind: callback.KindThrottled, Limit: fault.Queued,
			Msg: fmt.Sprintf("Limit of queued callbacks for %s is reached.", cb.Service)}
	case "DAILY":
		return &callback.Error{Kind: callback.KindThrottled, Limit: fault.Daily, RetryAfter: a.Daily.Ends.Sub(now),
			Msg: fmt.Sprintf("Callback for _customer_number=%s rejected because previous callbacks for this parameter were requested for more than %d times today.", cb.Phone, a.Daily.Limit)}
	case "FULL":
		return &callback.Error{Kind: callback.KindNoCapacity, Msg: "No capacity at the desired time"}
	case "EXISTS":
		return callback.ErrExists
	}
	return fmt.Errorf("admit: unexpected answer %q", res)
}

// Activate makes an admitted callback due once its durable copy exists.
func (s *Store) Activate(ctx context.Context, cb *callback.Callback, due time.Time) error {
	dueArg := ""
	if !due.IsZero() {
		dueArg = score(due)
	}
	// The index is lowered in the same round trip, whether or not this
	// call activated the callback: the index may be early, never late.
	// Should the script be unknown, the pipeline is sent twice: the first
	// sending's index change counts too.
	var idx []*redis.IntCmd
	cmds, err := s.pipes.exec(ctx, []*redis.Script{activateScript}, func(pipe redis.Pipeliner) {
		activateScript.EvalSha(ctx, pipe, []string{pendKey(cb.Tenant), dueKey(cb.Tenant)}, cb.ID, dueArg)
		if !due.IsZero() {
			idx = append(idx, pipe.ZAddArgs(ctx, indexKey, redis.ZAddArgs{LT: true, Ch: true,
				Members: []redis.Z{{Score: float64(due.UnixMilli()), Member: cb.Tenant}}}))
		}
	})
	if err == nil && len(cmds) > 0 {
		err = cmds[0].Err()
	}
	if err != nil {
		return unavailable(err)
	}
	for _, c := range idx {
		if c.Val() > 0 {
			s.lowered(ctx, cb.Tenant)
			break
		}
	}
	return nil
}

func unavailable(err error) error {
	return &callback.Error{Kind: callback.KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
}

// Get reads the live record.
func (s *Store) Get(ctx context.Context, tenant, id string) (*callback.Callback, error) {
	return s.get(ctx, tenant, id, false)
}

// Show reads the live record as it is shown: with whether a paused
// service holds it back (Callback.Held), asked in the same round trip.
func (s *Store) Show(ctx context.Context, tenant, id string) (*callback.Callback, error) {
	return s.get(ctx, tenant, id, true)
}

func (s *Store) get(ctx context.Context, tenant, id string, show bool) (*callback.Callback, error) {
	var held *redis.FloatCmd
	pipe := s.rdb.Pipeline()
	get := pipe.Get(ctx, recordKey(tenant, id))
	if show {
		held = pipe.ZScore(ctx, heldKey(tenant), id)
	}
	_, _ = pipe.Exec(ctx)
	v, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return nil, callback.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	if _, ok := record.Rev(v); !ok {
		return nil, callback.ErrNotFound // the tombstone of a refused create
	}
	cb, err := record.Parse(tenant, id, v)
	if err == nil && held != nil {
		cb.Held = held.Err() == nil
	}
	return cb, err
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
			out[i], _ = record.Parse(tenant, ids[i], str)
		}
	}
	return out, nil
}

// Commit replaces prev by next if prev is still the current revision,
// and moves its capacity place as mv says.
func (s *Store) Commit(ctx context.Context, prev, next *callback.Callback, due time.Time, mv callback.SlotMove) error {
	return s.commit(ctx, prev, next, timerArg(due, false), mv)
}

// timerArg is a timer as the scripts take it: a score, ” for none, or
// '-' to leave the timer as it is.
func timerArg(due time.Time, keep bool) string {
	switch {
	case keep:
		return "-"
	case due.IsZero():
		return ""
	}
	return score(due)
}

func (s *Store) commit(ctx context.Context, prev, next *callback.Callback, dueArg string, mv callback.SlotMove) error {
	release, capArg := "0", -1
	if mv.Release && prev.SlotStart > 0 {
		release = "1"
	}
	if mv.Take && next.SlotStart > 0 {
		capArg = mv.Total
		if mv.Force {
			capArg = -2
		}
	}
	res, err := commitScript.Run(ctx, s.rdb,
		[]string{recordKey(next.Tenant, next.ID), dueKey(next.Tenant), activeKey(next.Tenant),
			slotKey(prev.Tenant, prev.Service, prev.SlotStart), slotKey(next.Tenant, next.Service, next.SlotStart)},
		next.ID, prev.Rev, s.value(next), dueArg, flag(next.State.Final()), int(FinalKeep.Seconds()),
		activeField(prev.Service, prev.Phone), activeField(next.Service, next.Phone),
		release, capArg, next.SlotStart+slotKeyTTL.Milliseconds(), flag(prev.State.Final()),
		queueArg(prev), queueArg(next)).Text()
	if err != nil {
		return unavailable(err)
	}
	switch res {
	case "OK":
		if dueArg != "" && dueArg != "-" {
			ms, _ := strconv.ParseInt(dueArg, 10, 64)
			return s.Announce(ctx, next.Tenant, time.UnixMilli(ms))
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

// CommitRecords commits changes that move no limit, capacity place or
// finality (see callback.Simple), all of one tenant, in one round trip.
// errs[i] is ErrConflict or ErrNotFound for a change not made; found[i] is
// then the record Redis holds (nil: none), so a retry needs no read.
func (s *Store) CommitRecords(ctx context.Context, tenant string, cs []callback.Commit) (errs []error, found []*callback.Callback, err error) {
	errs, found = make([]error, len(cs)), make([]*callback.Callback, len(cs))
	if len(cs) == 0 {
		return errs, found, nil
	}
	keys := make([]string, 2, 2+len(cs))
	keys[0], keys[1] = dueKey(tenant), activeKey(tenant)
	args := make([]any, 0, 5*len(cs))
	var earliest time.Time
	for _, c := range cs {
		keys = append(keys, recordKey(tenant, c.Next.ID))
		if !c.Keep && !c.Due.IsZero() && (earliest.IsZero() || c.Due.Before(earliest)) {
			earliest = c.Due
		}
		args = append(args, c.Next.ID, c.Prev.Rev, s.value(c.Next), timerArg(c.Due, c.Keep), queueMove(c.Prev, c.Next))
	}
	res, err := commitRecords.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return errs, found, unavailable(err)
	}
	k := len(cs) // the values found follow the outcomes
	for i := range cs {
		r, _ := res[i].(int64)
		if r == 1 {
			continue
		}
		errs[i] = callback.ErrNotFound
		if r == 0 {
			errs[i] = callback.ErrConflict
		}
		if k < len(res) {
			if v, ok := res[k].(string); ok {
				found[i], _ = record.Parse(tenant, cs[i].Next.ID, v)
			}
			k++
		}
	}
	if earliest.IsZero() {
		return errs, found, nil
	}
	return errs, found, s.Announce(ctx, tenant, earliest)
}

// queueMove is how a change of cb moves its service's queue count, as
// commit_records.lua takes it: ” none, '+' or '-' then the queue field.
func queueMove(prev, next *callback.Callback) string {
	was, is := callback.InQueue(prev), callback.InQueue(next)
	switch {
	case was == is && (!is || prev.Service == next.Service):
		return ""
	case is && !was:
		return "+" + queueField(next.Service)
	case was && !is:
		return "-" + queueField(prev.Service)
	}
	return "" // a move between services is never Simple
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
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

// Forget undoes the admission of a create whose durable write failed and
// keeps its id as refused.
func (s *Store) Forget(ctx context.Context, cb *callback.Callback) error {
	return forgetScript.Run(ctx, s.rdb,
		[]string{recordKey(cb.Tenant, cb.ID), dueKey(cb.Tenant), leaseKey(cb.Tenant), activeKey(cb.Tenant),
			slotKey(cb.Tenant, cb.Service, cb.SlotStart), pendKey(cb.Tenant)},
		cb.ID, activeField(cb.Service, cb.Phone), flag(cb.SlotStart > 0), int(TombstoneKeep.Seconds()), queueArg(cb)).Err()
}

// Restore puts a record read from Postgres back, unless Redis has one.
func (s *Store) Restore(ctx context.Context, cb *callback.Callback, due time.Time) (bool, error) {
	keys, args := s.restoreArgs(cb, due, s.clock.Now())
	n, err := restoreScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return false, err
	}
	if n == 1 && !due.IsZero() {
		return true, s.Announce(ctx, cb.Tenant, due)
	}
	return n == 1, nil
}

func (s *Store) restoreArgs(cb *callback.Callback, due, now time.Time) ([]string, []any) {
	dueArg := ""
	if !due.IsZero() {
		dueArg = score(due)
	}
	active := !cb.State.Final()
	keys := []string{recordKey(cb.Tenant, cb.ID), dueKey(cb.Tenant), activeKey(cb.Tenant), slotKey(cb.Tenant, cb.Service, cb.SlotStart)}
	args := []any{cb.ID, s.value(cb), dueArg, flag(active), activeField(cb.Service, cb.Phone),
		flag(active && cb.SlotStart > 0 && now.Before(cb.Desired)), cb.SlotStart + slotKeyTTL.Milliseconds(), queueArg(cb)}
	return keys, args
}
