// Package monitor runs the background work that keeps callbacks moving:
// the dispatcher that hands due callbacks to ORS, the restore of Redis from
// Postgres after a Redis loss, the reconciler that repairs any difference
// between the two, and retention. Every node runs all of them; correctness
// never depends on there being exactly one.
package monitor

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/loop"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/voice"
)

// Sessions asks ORS about a callback's session (diagnostics query).
type Sessions interface {
	Query(ctx context.Context, sid string) (map[string]any, error)
}

// Waits estimates how long a new interaction would wait in a virtual
// queue (URS' lvq).
type Waits interface {
	LVQ(ctx context.Context, tenant, vq, aqt string) (voice.Estimate, error)
}

// Dispatcher hands due callbacks to ORS through the Voice stream. It sleeps
// until the earliest timer of any tenant, or until a create announces an
// earlier one; it does not poll. Before a hand-off it checks each record
// against Postgres: only a state that is durable is ever dialled.
type Dispatcher struct {
	Store     *redisstore.Store
	Durable   *pgstore.Store
	Watch     *redisstore.ServerWatch
	Callbacks *callback.Service
	Stream    *voice.Stream
	Settings  *settings.Registry
	// Sessions is ORS' session API (nil: sessions cannot be asked, a quiet
	// callback then waits for its TTL).
	Sessions Sessions
	// Waits gives the expected wait of a service's queue, which decides
	// how early a callback of a service that queues ahead is handed off
	// (nil: by its buffer alone).
	Waits Waits
	// TenantName names a contact center in stream entries.
	TenantName func(ctx context.Context, ccid string) string
	GESURL     string
	Lease      time.Duration
	Batch      int
	// Workers bounds the callbacks of a batch that need a question of
	// their own (ORS' stream groups, its session API) asked at once.
	Workers int
	// Claims is how many batches of one tenant are worked on at once.
	Claims int
	// Lookahead is how far ahead of their due time callbacks are claimed
	// and checked against Postgres: when they fall due, only a look at
	// their Redis records stands between them and the stream.
	Lookahead time.Duration
	// MaxIdle bounds a sleep, as a safety net should a wake-up be lost.
	MaxIdle time.Duration
	// SubmitFailed is told about each failed hand-off (CB_SUBMIT_FAILED).
	SubmitFailed func()
	// Drift is told about each record found different in the two stores.
	Drift    func(kind string)
	Repaired func(kind string)

	// Recording bounds the batches whose hand-offs are being recorded
	// while the next ones are claimed (default 8).
	Recording int

	// Signals are for tests: Pass after each pass over the due tenants.
	Signals struct{ Pass loop.Signal[struct{}] }

	recording sync.WaitGroup
	slots     chan struct{}

	stageMu sync.Mutex
	stages  map[stageKey][]staged
}

// stageKey is the instant a tenant's staged callbacks wait for: due times
// rounded up to stageGrain, so that the callbacks of every batch claimed
// for one instant (a slot opening at 09:00) go out together, with one
// look at their records and one pipeline to the stream, and none before
// its time.
type stageKey struct {
	tenant string
	at     int64 // unix ms, a multiple of stageGrain
}

// retryAfterFailure is when a failed hand-off is tried again.
const retryAfterFailure = 2 * time.Second

// inFlightRetry is when a record whose change is being written to Postgres
// is looked at again.
const inFlightRetry = time.Second

// Run dispatches until ctx ends. The batch claimed when it ends is
// finished (handed off or given back), so a node that stops leaves nothing
// to the leases.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.slots = make(chan struct{}, cmp.Or(d.Recording, 8))
	defer d.recording.Wait() // each is bounded by stepTimeout
	wake := d.Store.Wakeups(ctx)
	for {
		err := d.pass(ctx)
		d.Signals.Pass.Send(struct{}{})
		if ctx.Err() != nil {
			return nil
		}
		sleep := d.MaxIdle
		switch {
		case err != nil:
			slog.Warn("monitor pass failed", "err", err)
			sleep = time.Second
		case !d.trusted():
			sleep = time.Second // the restore wakes us when done
		default:
			if next, ok, err := d.Store.NextWake(ctx); err == nil && ok {
				if until := next.Sub(d.now()) - d.Lookahead; until < sleep {
					sleep = until
				}
			}
		}
		if sleep <= 0 {
			continue
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (d *Dispatcher) now() time.Time { return d.Callbacks.Clock.Now() }

// trusted is false while Redis may hold an old snapshot's records: they
// would be repaired one by one at dispatch; the restore does it wholesale.
func (d *Dispatcher) trusted() bool { return d.Watch == nil || d.Watch.Trusted() }

// pass handles every tenant with something due now.
func (d *Dispatcher) pass(ctx context.Context) error {
	if !d.trusted() {
		return nil
	}
	tenants, err := d.Store.DueTenants(ctx, d.now().Add(d.Lookahead), 1000)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if err := d.tenant(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// tenant works through a tenant's due callbacks, with up to Claims batches
// in flight: while one batch waits on Postgres or ORS' Redis, the next is
// claimed and checked.
func (d *Dispatcher) tenant(ctx context.Context, tenant string) error {
	claims := max(d.Claims, 1)
	var (
		mu   sync.Mutex
		next time.Time
		errs []error
		wg   sync.WaitGroup
	)
	for range claims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				now := d.now()
				c, err := d.Store.ClaimRecords(ctx, tenant, now, now.Add(d.Lookahead), now.Add(d.Lookahead+d.Lease), d.Batch)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				// A batch claimed is finished even when shutdown begins, so
				// the node hands every claimed callback off or back before it
				// exits instead of leaving it to the lease. Each step is
				// bounded.
				d.handle(ctx, tenant, c)
				if len(c.IDs) < d.Batch {
					mu.Lock()
					if next.IsZero() || (!c.Next.IsZero() && c.Next.Before(next)) {
						next = c.Next
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil || ctx.Err() != nil {
		return err
	}
	return d.Store.SetTenantNext(ctx, tenant, next)
}

// stepTimeout bounds the work on one claimed batch, so shutdown waits for
// it a bounded time.
const stepTimeout = 10 * time.Second

// batch is the work on one claimed batch: what its callbacks share (how far
// ORS read the stream, asked once) and what is sent for them together.
type batch struct {
	d      *Dispatcher
	tenant string
	now    time.Time

	once  sync.Once
	reads voice.Reads
	err   error

	mu       sync.Mutex
	timers   []redisstore.Timer
	handoffs []*callback.Callback
	// pre are hand-offs whose entries were prepared while they were staged.
	pre []prepared

	// claimed are the claims the batch ends when it is done.
	claimed []string
	started time.Time
	stepCtx context.Context
	cancel  context.CancelFunc
	// took is how long each round trip of the batch took (debug log).
	took struct{ revs, submit, record time.Duration }
}

func (b *batch) entryRead(ctx context.Context, entry string) (bool, error) {
	b.once.Do(func() { b.reads, b.err = b.d.Stream.Reads(ctx) })
	return b.reads.Read(entry), b.err
}

// release gives a callback back to its timer (zero: none, it needs no
// look) when the batch finishes.
func (b *batch) release(id string, at time.Time) {
	b.mu.Lock()
	b.timers = append(b.timers, redisstore.Timer{ID: id, At: at})
	b.mu.Unlock()
}

func (b *batch) handoff(cb *callback.Callback) {
	b.mu.Lock()
	b.handoffs = append(b.handoffs, cb)
	b.mu.Unlock()
}

// handle processes a claimed batch: one query checks it against Postgres,
// the decisions are the domain's (callback.Due), and the hand-offs go to
// ORS' stream in one round trip and are recorded in one commit of both
// stores. Only the callbacks that need a question of their own (a silent
// hand-off, a session to ask about) are handled one by one, by Workers.
// Callbacks claimed ahead of their due time are staged until it comes.
// The work goes on when ctx ends (each step is bounded); only a stage
// still waiting gives its callbacks back.
func (d *Dispatcher) handle(ctx context.Context, tenant string, c redisstore.Claimed) {
	if len(c.IDs) == 0 {
		return
	}
	b := d.newBatch(ctx, tenant)
	revs, err := d.Durable.Revs(b.ctx(), tenant, c.IDs)
	b.took.revs = time.Since(b.started)
	if err != nil {
		// Without Postgres nothing can be confirmed: nothing is dialled.
		slog.Warn("monitor could not check callbacks against postgres", "tenant", tenant, "err", err)
		for i, id := range c.IDs {
			b.release(id, later(c.Due[i], b.now.Add(retryAfterFailure)))
		}
		b.claimed = c.IDs
		d.dispatch(b, nil)
		return
	}
	var ready []*callback.Callback
	var ahead []staged
	for i, id := range c.IDs {
		cb := c.Records[i]
		if due := c.Due[i]; due.After(b.now) {
			// Checked now, decided when due; a record that does not agree
			// with Postgres is dealt with then.
			rev, durable := revs[id]
			ahead = append(ahead, staged{id: id, cb: cb, due: due, checked: cb != nil && durable && rev == cb.Rev})
			continue
		}
		b.claimed = append(b.claimed, id)
		if d.checked(b.ctx(), b, tenant, id, cb, revs) {
			ready = append(ready, cb)
		}
	}
	d.dispatch(b, ready)
	d.prepareAhead(b.ctx(), tenant, ahead)
	d.stage(ctx, tenant, ahead)
}

// prepared is a hand-off with its stream entry.
type prepared struct {
	cb    *callback.Callback
	entry voice.Prepared
}

// prepareAhead encodes the stream entries of staged callbacks that will
// be handed off when due (as their records are now), so that falling due
// costs a look at their revisions and the stream's round trip. The others
// are decided when due.
func (d *Dispatcher) prepareAhead(ctx context.Context, tenant string, ahead []staged) {
	var cbs []*callback.Callback
	var at []time.Time
	var idx []int
	for i, s := range ahead {
		if s.checked && callback.Due(s.cb, s.due, d.Callbacks.Policy).Kind == callback.Handoff {
			cbs, at, idx = append(cbs, s.cb), append(at, s.due), append(idx, i)
		}
	}
	if len(cbs) == 0 {
		return
	}
	ps, err := d.entries(ctx, tenant, cbs, at)
	if err != nil {
		return // decided when due
	}
	for j, i := range idx {
		if ps[j] != nil {
			ahead[i].entry = ps[j]
		}
	}
}

// ctx is the context of the batch's steps.
func (b *batch) ctx() context.Context { return b.stepCtx }

// newBatch starts the work on a batch; its steps are bounded by
// stepTimeout and go on when ctx ends.
func (d *Dispatcher) newBatch(ctx context.Context, tenant string) *batch {
	b := &batch{d: d, tenant: tenant, now: d.now(), started: time.Now()}
	b.stepCtx, b.cancel = context.WithTimeout(context.WithoutCancel(ctx), stepTimeout)
	return b
}

// dispatch decides on the batch's checked callbacks that are due, hands
// them off, and records the hand-offs beside the next claims.
func (d *Dispatcher) dispatch(b *batch, ready []*callback.Callback) {
	if b.empty(ready) {
		b.cancel()
		return
	}
	d.decide(b, ready)
	d.recordLater(b, d.submit(b.ctx(), b))
}

// empty reports whether the batch has nothing to do.
func (b *batch) empty(ready []*callback.Callback) bool {
	return len(ready) == 0 && len(b.pre) == 0 && len(b.claimed) == 0 && len(b.timers) == 0
}

// decide settles what each due callback of the batch needs, leaving the
// hand-offs of services that are not paused to submit.
func (d *Dispatcher) decide(b *batch, ready []*callback.Callback) {
	ctx := b.ctx()
	var asks []*callback.Callback
	for _, cb := range ready {
		switch callback.Due(cb, b.now, d.Callbacks.Policy).Kind {
		case callback.Unanswered, callback.Probe:
			asks = append(asks, cb)
		default:
			d.one(ctx, b, cb)
		}
	}
	d.each(asks, func(cb *callback.Callback) { d.one(ctx, b, cb) })
	d.holdPaused(ctx, b)
}

// recordLater records the batch's hand-offs, whose entries are on the
// stream, and ends its claims. Recording waits on Postgres, so it runs
// beside the next claims: a callback due meanwhile is not held up behind
// the writes of the one before. The claims keep the batch's callbacks from
// other monitors until it is recorded.
func (d *Dispatcher) recordLater(b *batch, sent []sent) {
	d.recording.Add(1)
	d.slots <- struct{}{}
	go func() {
		defer d.recording.Done()
		defer func() { <-d.slots }()
		ctx := b.ctx()
		d.record(ctx, b, sent)
		d.finish(ctx, b, b.claimed)
		b.cancel()
		slog.Debug("monitor batch", "tenant", b.tenant, "claimed", len(b.claimed), "handoffs", len(b.handoffs),
			"revs_ms", ms(b.took.revs), "submit_ms", ms(b.took.submit), "record_ms", ms(b.took.record), "total_ms", ms(time.Since(b.started)))
	}()
}

// staged is a callback claimed ahead of its due time. checked: its record
// agreed with Postgres when it was claimed.
type staged struct {
	id      string
	cb      *callback.Callback
	due     time.Time
	checked bool
	entry   *voice.Prepared // nil: decided when due
}

// stageGrain is how close due times are for their callbacks to be handed
// off together (each no earlier than its own due time).
const stageGrain = 5 * time.Millisecond

// stage holds callbacks claimed ahead until they are due, and then looks
// again at their Redis records only: one that changed meanwhile (cancelled,
// rescheduled) is handled like a fresh claim, the others go straight to
// the stream. When ctx ends first, they go back to their timers.
func (d *Dispatcher) stage(ctx context.Context, tenant string, ahead []staged) {
	grain := stageGrain.Milliseconds()
	for _, st := range ahead {
		k := stageKey{tenant: tenant, at: (st.due.UnixMilli() + grain - 1) / grain * grain}
		d.stageMu.Lock()
		if d.stages == nil {
			d.stages = map[stageKey][]staged{}
		}
		list, waiting := d.stages[k]
		d.stages[k] = append(list, st)
		d.stageMu.Unlock()
		if !waiting {
			d.recording.Add(1)
			go d.fallDueAt(ctx, k)
		}
	}
}

// fallDueAt waits for a stage's instant and hands off what was staged for
// it by then; a batch staged later for the same instant waits anew (and
// is due at once).
func (d *Dispatcher) fallDueAt(ctx context.Context, k stageKey) {
	defer d.recording.Done()
	ok := d.sleepUntil(ctx, time.UnixMilli(k.at)) && d.trusted()
	d.stageMu.Lock()
	group := d.stages[k]
	delete(d.stages, k)
	d.stageMu.Unlock()
	if !ok {
		d.giveBack(context.WithoutCancel(ctx), k.tenant, group)
		return
	}
	d.fallDue(ctx, k.tenant, group)
}

// sleepUntil waits until t; false if ctx ended first.
func (d *Dispatcher) sleepUntil(ctx context.Context, t time.Time) bool {
	wait := t.Sub(d.now())
	if wait <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// fallDue hands off a group of staged callbacks that are now due: those
// whose records are as they were when staged go to the stream with the
// entries prepared then; the others are claimed afresh.
//
// A group may hold many claims' worth (a slot opening at 09:00). It goes
// out a claim's size at a time, as a pipeline: while one part is on its
// way to the stream, the records of the next are looked at, so the first
// entries leave as soon as the instant comes, and each part is looked at
// just before it is submitted, leaving a change made meanwhile little
// time to be missed. The hand-offs are recorded once every part is on
// the stream: the writes to both stores would otherwise compete with the
// submission for the same CPUs and delay the last entries.
func (d *Dispatcher) fallDue(ctx context.Context, tenant string, group []staged) {
	parts := make(chan *batch, 1)
	var again redisstore.Claimed
	go func() {
		defer close(parts)
		for chunk := range slices.Chunk(group, max(d.Batch, 1)) {
			if b := d.look(ctx, tenant, chunk, &again); b != nil {
				parts <- b
			}
		}
	}()
	type submitted struct {
		b    *batch
		sent []sent
	}
	// Two parts are on their way at once, so that the Voice Redis runs
	// one while the next is encoded and sent.
	var (
		mu   sync.Mutex
		done []submitted
		wg   sync.WaitGroup
	)
	inFlight := make(chan struct{}, submitsInFlight)
	for b := range parts {
		inFlight <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inFlight }()
			ss := d.submit(b.ctx(), b)
			mu.Lock()
			done = append(done, submitted{b, ss})
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(again.IDs) > 0 {
		b := d.newBatch(ctx, tenant)
		var err error
		if again.Records, err = d.Store.GetMany(b.ctx(), tenant, again.IDs); err != nil {
			slog.Warn("monitor could not read staged callbacks", "tenant", tenant, "err", err)
			d.retry(b, again.IDs)
		} else {
			b.cancel()
			d.handle(ctx, tenant, again)
		}
	}
	for _, s := range done {
		d.recordLater(s.b, s.sent)
	}
}

// submitsInFlight is how many parts of a group that fell due are submitted
// at once.
const submitsInFlight = 2

// look compares the records of part of a group that fell due with their
// revisions when staged, and decides on those that did not change; the
// changed ones are added to again. It returns the batch to submit (nil:
// nothing to submit or record).
func (d *Dispatcher) look(ctx context.Context, tenant string, part []staged, again *redisstore.Claimed) *batch {
	b := d.newBatch(ctx, tenant)
	ids := make([]string, len(part))
	for i, s := range part {
		ids[i] = s.id
	}
	revs, err := d.Store.RecordRevs(b.ctx(), tenant, ids)
	b.took.revs = time.Since(b.started)
	if err != nil {
		slog.Warn("monitor could not look at staged callbacks", "tenant", tenant, "err", err)
		d.retry(b, ids)
		return nil
	}
	var ready []*callback.Callback
	for i, s := range part {
		if !s.checked || revs[i] != s.cb.Rev {
			again.IDs = append(again.IDs, s.id)
			again.Due = append(again.Due, b.now)
			continue
		}
		b.claimed = append(b.claimed, s.id)
		if s.entry != nil {
			b.pre = append(b.pre, prepared{s.cb, *s.entry})
		} else {
			ready = append(ready, s.cb)
		}
	}
	if b.empty(ready) {
		b.cancel()
		return nil
	}
	d.decide(b, ready)
	return b
}

// retry ends a batch that could not be worked on: its callbacks are
// looked at again shortly.
func (d *Dispatcher) retry(b *batch, ids []string) {
	for _, id := range ids {
		b.release(id, b.now.Add(retryAfterFailure))
	}
	b.claimed = ids
	d.dispatch(b, nil)
}

// giveBack returns staged callbacks to their timers.
func (d *Dispatcher) giveBack(ctx context.Context, tenant string, ahead []staged) {
	ts := make([]redisstore.Timer, len(ahead))
	ids := make([]string, len(ahead))
	for i, s := range ahead {
		ts[i] = redisstore.Timer{ID: s.id, At: s.due}
		ids[i] = s.id
	}
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := d.Store.ReleaseMany(ctx, tenant, ts, ids); err != nil {
		slog.Warn("monitor could not give staged callbacks back to their timers", "tenant", tenant, "err", err)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// each runs f on every callback with at most Workers at once.
func (d *Dispatcher) each(cbs []*callback.Callback, f func(*callback.Callback)) {
	if len(cbs) == 0 {
		return
	}
	work := make(chan *callback.Callback)
	var wg sync.WaitGroup
	for range min(max(d.Workers, 1), len(cbs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cb := range work {
				f(cb)
			}
		}()
	}
	for _, cb := range cbs {
		work <- cb
	}
	close(work)
	wg.Wait()
}

// finish ends the batch's claims, giving the callbacks that wait their
// timers back, in one round trip. Every other callback of the batch has
// had its timer set by the commit that changed it.
func (d *Dispatcher) finish(ctx context.Context, b *batch, claimed []string) {
	ts := make([]redisstore.Timer, 0, len(b.timers))
	for _, t := range b.timers {
		if !t.At.IsZero() {
			ts = append(ts, t)
		}
	}
	if err := d.Store.ReleaseMany(ctx, b.tenant, ts, claimed); err != nil {
		// The leases end and the callbacks are claimed again.
		slog.Warn("monitor could not give callbacks back to their timers", "tenant", b.tenant, "err", err)
	}
}

// checked compares a claimed record with its durable revision; it reports
// whether both agree, and deals with the record otherwise.
func (d *Dispatcher) checked(ctx context.Context, b *batch, tenant, id string, cb *callback.Callback, revs map[string]int64) bool {
	rev, durable := revs[id]
	now := b.now
	switch {
	case cb == nil && !durable:
		b.release(id, time.Time{}) // a timer without a record
	case cb == nil:
		d.drift(ctx, b, "missing", tenant, id, func() error { return d.restoreOne(ctx, tenant, id) })
		b.release(id, time.Time{})
	case !durable:
		// Redis only: an admission whose commit never came, or a record of
		// an old snapshot. Young ones may still be committing.
		if now.Sub(cb.Created) < redisstore.PendingGrace {
			b.release(id, now.Add(inFlightRetry))
			return false
		}
		d.drift(ctx, b, "not_durable", tenant, id, func() error { return d.Store.Forget(ctx, cb) })
	case rev < cb.Rev && now.Sub(cb.Updated) < redisstore.PendingGrace:
		b.release(id, now.Add(inFlightRetry)) // its Postgres write is under way
	case rev != cb.Rev:
		kind := "redis_stale"
		if rev < cb.Rev {
			kind = "redis_ahead"
		}
		d.drift(ctx, b, kind, tenant, id, func() error { return d.repair(ctx, cb) })
	default:
		return true
	}
	return false
}

// drift counts and logs a difference between the stores and repairs it.
func (d *Dispatcher) drift(ctx context.Context, b *batch, kind, tenant, id string, repair func() error) {
	if d.Drift != nil {
		d.Drift(kind)
	}
	if err := repair(); err != nil {
		slog.Warn("could not repair a callback that differs between postgres and redis", "kind", kind, "tenant", tenant, "id", id, "err", err)
		b.release(id, b.now.Add(retryAfterFailure))
		return
	}
	slog.Info("repaired a callback that differed between postgres and redis", "kind", kind, "tenant", tenant, "id", id)
	if d.Repaired != nil {
		d.Repaired(kind)
	}
}

// repair brings a Redis record to its durable state (the truth).
func (d *Dispatcher) repair(ctx context.Context, hot *callback.Callback) error {
	pg, err := d.Durable.Get(ctx, hot.Tenant, hot.ID)
	if err != nil {
		return err
	}
	return d.Callbacks.Repair(ctx, hot, pg)
}

func (d *Dispatcher) restoreOne(ctx context.Context, tenant, id string) error {
	pg, err := d.Durable.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	due, _ := callback.NextCheck(pg, d.Callbacks.Policy)
	_, err = d.Store.Restore(ctx, pg, due)
	return err
}

func (d *Dispatcher) one(ctx context.Context, b *batch, cb *callback.Callback) {
	now := b.now
	p := d.Callbacks.Policy
	var lead time.Duration
	if cb.QueuesAhead(now) {
		lead = d.lead(ctx, cb)
	}
	act := callback.DueLead(cb, now, p, lead)
	switch act.Kind {
	case callback.Unanswered:
		read, err := b.entryRead(ctx, cb.Entry)
		if err != nil {
			// The Voice Redis cannot say: resubmitting could start a
			// second session, so wait.
			b.release(cb.ID, now.Add(retryAfterFailure))
			return
		}
		held := false
		if read {
			if held, err = d.Stream.Held(ctx, cb.Entry); err != nil {
				b.release(cb.ID, now.Add(retryAfterFailure))
				return
			}
		}
		act = callback.AfterSilence(cb, read, held, now, p)
	case callback.Probe:
		act = callback.Probed(cb, d.session(ctx, cb), now, p)
	}
	switch act.Kind {
	case callback.Drop:
		b.release(cb.ID, time.Time{})
	case callback.Wait:
		b.release(cb.ID, act.At)
	case callback.Fail:
		d.fail(ctx, b, cb, act.Reason)
	case callback.Handoff:
		b.handoff(cb)
	}
}

// waitTimeout bounds the question to URS about a queue's wait: without an
// answer the callback is handed off by its buffer alone.
const waitTimeout = 1500 * time.Millisecond

// lead is how far ahead of its desired time cb is handed off: its queue's
// expected wait now, when URS knows it, plus the service's buffer.
func (d *Dispatcher) lead(ctx context.Context, cb *callback.Callback) time.Duration {
	svc, err := d.Callbacks.ServiceSettings(cb.Tenant, cb.Service)
	if err != nil || !svc.QueueAhead {
		return 0
	}
	lead := svc.QueueBuffer
	if d.Waits == nil {
		return lead
	}
	name := ""
	if d.TenantName != nil {
		name = d.TenantName(ctx, cb.Tenant)
	}
	qctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	e, err := d.Waits.LVQ(qctx, name, cb.Service, voice.AQT["mode2"])
	if err != nil {
		slog.Debug("no expected wait for a callback queued ahead; its buffer alone leads", "id", cb.ID, "service", cb.Service, "err", err)
		return lead
	}
	if e.EWT > 0 && !e.NoAgents {
		lead += time.Duration(e.EWT) * time.Second
	}
	return lead
}

// session asks ORS whether the callback's session still runs.
func (d *Dispatcher) session(ctx context.Context, cb *callback.Callback) callback.SessionStatus {
	if d.Sessions == nil || cb.Session == "" {
		return callback.SessionUnknown
	}
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := d.Sessions.Query(qctx, cb.Session)
	switch {
	case err == nil:
		return callback.SessionAlive
	case errors.Is(err, voice.ErrNotFound):
		return callback.SessionGone
	default:
		slog.Warn("could not ask ORS about a callback's session", "id", cb.ID, "session", cb.Session, "err", err)
		return callback.SessionUnknown
	}
}

func (d *Dispatcher) fail(ctx context.Context, b *batch, cb *callback.Callback, reason string) {
	changed := false
	_, err := d.Callbacks.Update(ctx, cb.Tenant, cb.ID, "monitor", func(c *callback.Callback) (bool, error) {
		changed = c.Rev == cb.Rev // decided on this revision only
		if changed {
			callback.Complete(c, reason)
		}
		return changed, nil
	})
	if err != nil {
		slog.Warn("monitor could not complete callback", "tenant", cb.Tenant, "id", cb.ID, "err", err)
	}
	if err != nil || !changed {
		d.settle(ctx, b, cb)
		return
	}
	// An entry ORS has not read must not start a call for a callback that
	// is over.
	if _, err := d.Stream.Withdraw(ctx, cb.Entry); err != nil {
		slog.Warn("could not withdraw the stream entry of a completed callback", "id", cb.ID, "err", err)
	}
}

// settle releases a callback an update left unchanged (still in the lease
// set) back to its timer.
func (d *Dispatcher) settle(ctx context.Context, b *batch, cb *callback.Callback) {
	cur, err := d.Store.Get(ctx, cb.Tenant, cb.ID)
	if err != nil {
		b.release(cb.ID, b.now.Add(retryAfterFailure))
		return
	}
	at, _ := callback.NextCheck(cur, d.Callbacks.Policy)
	b.release(cb.ID, at)
}

// sent is a callback whose entry is on the stream (or was already).
type sent struct {
	cb  *callback.Callback
	sub voice.Submitted
}

// holdPaused takes the hand-offs of paused services out of the batch and
// holds them back, with their due times, until their service resumes.
// The paused set is asked only by a batch that has hand-offs.
func (d *Dispatcher) holdPaused(ctx context.Context, b *batch) {
	if len(b.handoffs) == 0 && len(b.pre) == 0 {
		return
	}
	paused, err := d.Store.PausedServices(ctx, b.tenant)
	if err != nil {
		// Not knowing whether a service is paused, dial nothing.
		slog.Warn("monitor could not read the paused services", "tenant", b.tenant, "err", err)
		for _, cb := range b.handoffs {
			b.release(cb.ID, b.now.Add(retryAfterFailure))
		}
		for _, p := range b.pre {
			b.release(p.cb.ID, b.now.Add(retryAfterFailure))
		}
		b.handoffs, b.pre = nil, nil
		return
	}
	if len(paused) == 0 {
		return
	}
	var held []redisstore.Held
	keep := b.handoffs[:0]
	for _, cb := range b.handoffs {
		if paused[cb.Service] {
			held = append(held, redisstore.Held{ID: cb.ID, Service: cb.Service, Due: cb.HandoffAt(0)})
			continue
		}
		keep = append(keep, cb)
	}
	b.handoffs = keep
	pre := b.pre[:0]
	for _, p := range b.pre {
		if paused[p.cb.Service] {
			held = append(held, redisstore.Held{ID: p.cb.ID, Service: p.cb.Service, Due: p.cb.HandoffAt(0)})
			continue
		}
		pre = append(pre, p)
	}
	b.pre = pre
	if len(held) == 0 {
		return
	}
	if _, err := d.Store.Hold(ctx, b.tenant, held); err != nil {
		slog.Warn("monitor could not hold back the callbacks of paused services", "tenant", b.tenant, "err", err)
		for _, h := range held {
			b.release(h.ID, b.now.Add(retryAfterFailure))
		}
		return
	}
	slog.Debug("monitor held back callbacks of paused services", "tenant", b.tenant, "held", len(held))
}

// submit sends the batch's due callbacks to ORS' stream in one round trip.
func (d *Dispatcher) submit(ctx context.Context, b *batch) []sent {
	if len(b.handoffs) == 0 && len(b.pre) == 0 {
		return nil
	}
	t0 := time.Now()
	defer func() { b.took.submit = time.Since(t0) }()
	now := b.now
	cbs := make([]*callback.Callback, 0, len(b.pre)+len(b.handoffs))
	ps := make([]voice.Prepared, 0, cap(cbs))
	for _, p := range b.pre {
		cbs, ps = append(cbs, p.cb), append(ps, p.entry)
	}
	if len(b.handoffs) > 0 {
		at := make([]time.Time, len(b.handoffs))
		for i := range at {
			at[i] = now
		}
		entries, err := d.entries(ctx, b.tenant, b.handoffs, at)
		for i, cb := range b.handoffs {
			switch {
			case err != nil:
				b.release(cb.ID, now.Add(retryAfterFailure))
			case entries[i] == nil:
				d.fail(ctx, b, cb, "FAIL_TARGET_NOT_FOUND")
			default:
				cbs, ps = append(cbs, cb), append(ps, *entries[i])
			}
		}
		if err != nil {
			slog.Warn("monitor could not read the user data of callbacks to hand off", "tenant", b.tenant, "err", err)
		}
	}
	subs := d.Stream.SubmitPrepared(ctx, ps)
	out := make([]sent, 0, len(cbs))
	for i, cb := range cbs {
		if err := subs[i].Err; err != nil {
			slog.Error("callback hand-off to ORS failed", "tenant", cb.Tenant, "id", cb.ID, "attempt", cb.Attempt+1, "err", err)
			if d.SubmitFailed != nil {
				d.SubmitFailed()
			}
			b.release(cb.ID, now.Add(retryAfterFailure))
			continue
		}
		out = append(out, sent{cb, subs[i]})
	}
	return out
}

// entries prepares the stream entries of callbacks handed off at the given
// times: nil for one whose service is no longer published. ORS gets the
// user data with the entry, large ones included.
func (d *Dispatcher) entries(ctx context.Context, tenant string, cbs []*callback.Callback, at []time.Time) ([]*voice.Prepared, error) {
	if err := d.Callbacks.Attach(ctx, tenant, cbs); err != nil {
		return nil, err
	}
	name := ""
	if d.TenantName != nil {
		name = d.TenantName(ctx, tenant)
	}
	es := make([]voice.Entry, 0, len(cbs))
	var idx []int
	for i, cb := range cbs {
		if svc, ok := d.Settings.Service(cb.Tenant, cb.Service); ok {
			es = append(es, voice.Entry{Tenant: cb.Tenant, TenantName: name, Callback: cb, Service: svc,
				GESURL: d.GESURL, Attempt: cb.Attempt + 1, Now: at[i]})
			idx = append(idx, i)
		}
	}
	out := make([]*voice.Prepared, len(cbs))
	for j, p := range d.Stream.Prepare(es) {
		out[idx[j]] = &p
	}
	return out, nil
}

// record writes the hand-offs of a batch to both stores in one commit.
// Should the record fail (Postgres refuses), the callback stays due and
// the next try of the same attempt finds its entry already there.
func (d *Dispatcher) record(ctx context.Context, b *batch, ss []sent) {
	if len(ss) == 0 {
		return
	}
	t0 := time.Now()
	defer func() { b.took.record = time.Since(t0) }()
	changes := make([]callback.Change, len(ss))
	for i, s := range ss {
		changes[i] = callback.Change{Cur: s.cb, Change: handedOff(s.cb, s.sub.ID, b.now)}
	}
	// A stage's batch may hold many claims' worth: it is written a
	// claim's size at a time, as each commit is one script call.
	outs := make([]callback.Outcome, 0, len(changes))
	for chunk := range slices.Chunk(changes, max(d.Batch, 1)) {
		outs = append(outs, d.Callbacks.UpdateMany(ctx, b.tenant, "monitor", chunk)...)
	}
	for i, o := range outs {
		cb, sub := ss[i].cb, ss[i].sub
		if o.Err != nil && !errors.Is(o.Err, callback.ErrNotFound) {
			slog.Warn("monitor could not record hand-off", "tenant", cb.Tenant, "id", cb.ID, "err", o.Err)
		}
		if o.Err == nil && !o.Changed && sub.Added {
			// The record moved on (rescheduled, cancelled, or ORS woke up on
			// the earlier attempt): the entry just added must not start a call.
			if _, werr := d.Stream.Withdraw(ctx, sub.ID); werr != nil {
				slog.Warn("could not withdraw a stream entry the callback no longer needs", "id", cb.ID, "err", werr)
			}
		}
		if !o.Changed || o.Err != nil {
			d.settle(ctx, b, cb)
		}
	}
}

// handedOff is the change that records attempt cb.Attempt+1 as handed off
// in entry. ORS may already have reported on it (its report then wins the
// race): the submission time is the time before the entry existed, so such
// a report counts as an answer.
func handedOff(cb *callback.Callback, entry string, now time.Time) func(*callback.Callback) (bool, error) {
	attempt := cb.Attempt + 1
	return func(c *callback.Callback) (bool, error) {
		if c.State.Final() || c.Attempt >= attempt {
			return false, nil
		}
		if c.Rev != cb.Rev && c.Reported.Before(now) {
			return false, nil // changed meanwhile, not by ORS answering this entry: the new state decides
		}
		c.Attempt = attempt - 1
		callback.MarkHandedOff(c, entry, now)
		return true, nil
	}
}
