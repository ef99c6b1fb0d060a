package callback

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/ids"
	"github.com/gesgo/ges/internal/schedule"
	"github.com/gesgo/ges/internal/settings"
)

// Commit is a change of one record for the hot store: Prev is the revision
// it replaces, Next the new record and Due its timer (zero: none).
type Commit struct {
	Prev, Next *Callback
	Due        time.Time
	// Keep leaves the timer as it is: it is not later than Due (see
	// Service.Report), so the monitor looks early, at worst, and looks
	// again at Due.
	Keep bool
}

// Simple reports whether a change moves nothing but the record and its
// timer: the same number in the same service, no capacity place moved and
// no change of finality, so no limit or count needs to follow it.
func Simple(prev, next *Callback, mv SlotMove) bool {
	return !mv.Release && !mv.Take && prev.Service == next.Service && prev.Phone == next.Phone &&
		prev.State.Final() == next.State.Final()
}

// Admission are the limits checked atomically with the insert of a record.
type Admission struct {
	MaxPerNumber int        // 0 = no limit
	SlotTotal    int        // capacity of the slot cb.SlotStart names (when it names one)
	Throttles    []Throttle // rate windows of the service
	// MaxQueued bounds the callbacks of the service in its queue (see
	// InQueue); it refuses only creates that enter the queue at once.
	MaxQueued int // 0 = no limit
	// Daily bounds the creates for one number in one service per day.
	Daily DailyLimit
}

// DailyLimit admits at most Limit creates for a number per day of the
// service's calendar (GMS _throttle_customer_number_limit): Day names the
// day and Ends is the midnight that closes it, in the service's zone.
type DailyLimit struct {
	Limit int // 0 = no limit
	Day   string
	Ends  time.Time
}

// InQueue reports whether cb counts against its service's queue limit: a
// live callback that is either immediate or already handed to ORS. A
// scheduled callback waits in the calendar, not in the queue, until its
// time comes.
func InQueue(cb *Callback) bool {
	return !cb.State.Final() && !(cb.Scheduled && cb.State == Scheduled)
}

// Throttle admits at most Limit creates per fixed Window (0 = no limit).
type Throttle struct {
	Limit  int
	Window time.Duration
}

// SlotMove tells the hot store how a change moves a callback's capacity
// place: give back the place of prev.SlotStart, take one in next.SlotStart
// (refused when Total places are taken, unless Force: an undo or a repair
// puts back a place that was held).
type SlotMove struct {
	Release bool
	Take    bool
	Total   int
	Force   bool
}

// Inverse is the move that undoes m.
func (m SlotMove) Inverse() SlotMove {
	return SlotMove{Release: m.Take, Take: m.Release, Force: true}
}

// Hot is the hot store (Redis): the live record, its timers and the
// reservations of limits and capacity. Every change is one atomic step.
type Hot interface {
	// Admit inserts cb if the limits allow, holding its reservations; it
	// is pending, not due, until Activate: a callback is dialled only
	// once its durable copy exists.
	Admit(ctx context.Context, cb *Callback, a Admission) error
	// Activate makes an admitted callback due at due.
	Activate(ctx context.Context, cb *Callback, due time.Time) error
	// Forget undoes an Admit whose durable write failed and remembers the
	// id as refused, so a commit that still lands is recognised.
	Forget(ctx context.Context, cb *Callback) error
	Get(ctx context.Context, tenant, id string) (*Callback, error)
	// Show is Get for a reader: it also tells whether a paused service
	// holds the callback back (Callback.Held).
	Show(ctx context.Context, tenant, id string) (*Callback, error)
	// HeldAmong is Show's Held for several callbacks of a tenant.
	HeldAmong(ctx context.Context, tenant string, ids []string) ([]bool, error)
	// Commit replaces prev by next if prev is still current (same Rev),
	// sets next's timer (zero = none) and moves its capacity place.
	// ErrConflict otherwise; a KindNoCapacity error when the new slot is full.
	Commit(ctx context.Context, prev, next *Callback, due time.Time, mv SlotMove) error
	// CommitRecords commits simple changes of one tenant (see Simple) at
	// once, each like Commit; errs[i] tells the ones not made
	// (ErrConflict, ErrNotFound).
	// found[i] is the record the hot store holds instead (nil: none).
	CommitRecords(ctx context.Context, tenant string, cs []Commit) (errs []error, found []*Callback, err error)
	// Restore puts a durable record back if the hot store lacks it.
	Restore(ctx context.Context, cb *Callback, due time.Time) (bool, error)
	// SlotsUsed counts the places taken in the slots starting at starts.
	SlotsUsed(ctx context.Context, tenant, service string, starts []time.Time) ([]int, error)
}

// Durable is the 14-day store (Postgres), the record of truth.
type Durable interface {
	// Save writes cb if its revision is newer than the stored one, and
	// ErrStale if it is not (the durable copy moved on without the hot
	// one: a restored snapshot, a lost write).
	Save(ctx context.Context, cb *Callback, ev Event) error
	// UserData reads the user data of a tenant's callbacks (those that
	// have some), for records the hot store holds detached.
	UserData(ctx context.Context, tenant string, ids []string) (map[string]json.RawMessage, error)
	// SaveMany is Save for several records at once (one wait, shared round
	// trips); errs[i] is the outcome of cbs[i].
	SaveMany(ctx context.Context, cbs []*Callback, evs []Event) []error
	Get(ctx context.Context, tenant, id string) (*Callback, error)
	Query(ctx context.Context, tenant string, q Query) ([]*Callback, error)
	// Count counts a tenant's callbacks in the given states, per service.
	Count(ctx context.Context, tenant string, states []State) (map[string]int, error)
}

// Settings gives the settings of a tenant's callback service.
type Settings interface {
	Service(tenant, name string) (*settings.Service, bool)
}

// Service is the set of callback use cases shared by every API.
type Service struct {
	Hot      Hot
	Durable  Durable
	Settings Settings
	Clock    clock.Clock
	Policy   Policy
	// Created is told about each booked callback (metrics).
	Created func(tenant string)
	// Interrupted is told about a callback cancelled while ORS was running
	// it (QUEUED or ROUTING with a session), so the session can be ended.
	Interrupted func(cb *Callback)
	// Reported is told about the record after each applied report (ORS
	// progress: state, position, wait), so push notifications can follow
	// the callback. It must not block.
	Reported func(cb *Callback)
	// Captcha enforces tenants' CAPTCHA rule on public bookings (nil: none).
	Captcha CaptchaChecker
	// Numbers applies the permitted & blocked number rules on create
	// (nil: every number is taken as written).
	Numbers NumberChecker
	// Recent starts changes from this node's last commit of a record
	// instead of a read (nil: always read).
	Recent *Recent
}

// NumberChecker judges the number of a booking: the number to store (in
// E.164 when the service normalises), or a domain error (KindInvalid for
// a refused number).
type NumberChecker interface {
	CheckNumber(ctx context.Context, tenant string, svc *settings.Service, phone string) (string, error)
}

// CreateRequest is a booking, whatever API it came from.
type CreateRequest struct {
	Service  string
	Phone    string
	Desired  time.Time // zero = as soon as possible
	Props    map[string]string
	UserData json.RawMessage
	Source   string
	// AlwaysCheckCapacity books any desired time in the future as a
	// scheduled callback, checked against the capacity of its slot.
	AlwaysCheckCapacity bool
	// Captcha marks a public booking: the tenant's CAPTCHA rule applies
	// to CaptchaToken.
	Captcha      bool
	CaptchaToken string
}

// ImmediateWindow is how close to now a desired time books an immediate
// callback rather than a scheduled one: clocks of callers differ a little,
// and a time a second away is "now" for a customer.
const ImmediateWindow = time.Second

// Create books a callback.
func (s *Service) Create(ctx context.Context, tenant string, r CreateRequest) (*Callback, error) {
	if err := ValidateCreate(&r); err != nil {
		return nil, err
	}
	svc, ok := s.Settings.Service(tenant, r.Service)
	if !ok {
		return nil, Errorf(KindInvalid, "Unknown service: %s", r.Service)
	}
	if strings.TrimSpace(r.Phone) == "" {
		return nil, Errorf(KindInvalid, "phoneNumber is required")
	}
	phone := strings.TrimSpace(r.Phone)
	if s.Numbers != nil {
		p, err := s.Numbers.CheckNumber(ctx, tenant, svc, phone)
		if err != nil {
			return nil, err
		}
		phone = p
	}
	now := s.Clock.Now()
	cb := &Callback{
		ID: ids.New(), Tenant: tenant, Service: r.Service, Phone: phone,
		State: Scheduled, Created: now, Updated: now, EWT: -1, Rev: 1,
		Props: map[string]string{}, UserData: r.UserData,
	}
	for k, v := range r.Props {
		if v != "" {
			cb.Props[k] = v
		}
	}
	adm := Admission{MaxPerNumber: svc.MaxPerNumber, MaxQueued: svc.MaxQueued}
	if svc.DailyPerNumber > 0 {
		day := now.In(svc.Location)
		y, m, d := day.Date()
		adm.Daily = DailyLimit{Limit: svc.DailyPerNumber, Day: day.Format("20060102"),
			Ends: time.Date(y, m, d+1, 0, 0, 0, 0, svc.Location)}
	}
	for _, t := range svc.Throttles {
		if t.Limit > 0 {
			adm.Throttles = append(adm.Throttles, Throttle{t.Limit, t.Window})
		}
	}
	scheduled := !r.Desired.IsZero() && (r.Desired.After(now.Add(ImmediateWindow)) || (r.AlwaysCheckCapacity && r.Desired.After(now)))
	if scheduled {
		if !svc.OfferScheduled {
			return nil, Errorf(KindInvalid, "Scheduled callbacks are not offered for service %s", svc.Name)
		}
		slot, err := s.slotFor(svc, r.Desired, now)
		if err != nil {
			return nil, err
		}
		cb.Desired, cb.Scheduled, cb.SlotStart = r.Desired.UTC(), true, slot.Start.UnixMilli()
		cb.QueueFrom = queueFrom(svc, cb)
		adm.SlotTotal = slot.Total
	} else {
		if !svc.OfferImmediate {
			return nil, Errorf(KindInvalid, "Immediate callbacks are not offered for service %s", svc.Name)
		}
		if !svc.Plan.IsOpen(now) {
			return nil, Errorf(KindInvalid, "Service %s is closed now: immediate callbacks are offered during its business hours", svc.Name)
		}
		cb.Desired = now
	}
	cb.Expires = cb.Desired.Add(svc.TTL)
	// The CAPTCHA answer is used up only by a request that is otherwise
	// valid, and checked before the throttles and the capacity.
	if r.Captcha && s.Captcha != nil {
		if err := s.Captcha.CheckCaptcha(ctx, tenant, r.CaptchaToken); err != nil {
			return nil, err
		}
	}
	if err := s.Hot.Admit(ctx, cb, adm); err != nil {
		return nil, s.withProposals(ctx, tenant, svc, cb.Desired, err)
	}
	if err := s.Durable.Save(ctx, cb, Event{At: now, Rev: cb.Rev, State: cb.State, Source: r.Source}); err != nil {
		// Without the durable copy the booking could be lost with Redis:
		// give the reservations back and say so. Had the caller gone, the
		// refusal stands all the same.
		uctx, cancel := undoContext(ctx)
		defer cancel()
		_ = s.Hot.Forget(uctx, cb)
		return nil, unavailable(err)
	}
	due, _ := NextCheck(cb, s.Policy)
	// The booking is durable, so it is the caller's whatever happens now:
	// should Redis fail here, the reconciler finds the pending admission
	// with its commit and activates it.
	_ = s.Hot.Activate(context.WithoutCancel(ctx), cb, due)
	if s.Created != nil {
		s.Created(tenant)
	}
	return cb, nil
}

// Get returns a callback of the tenant: the live record, or the durable
// copy once the hot store has let a completed record go.
func (s *Service) Get(ctx context.Context, tenant, id string) (*Callback, error) {
	if !ids.Valid(id) { // no such record can exist; the stores need not be asked
		return nil, ErrNotFound
	}
	cb, err := s.Hot.Show(ctx, tenant, id)
	if errors.Is(err, ErrNotFound) {
		return s.Durable.Get(ctx, tenant, id)
	}
	if err != nil {
		return nil, err
	}
	return cb, s.Attach(ctx, tenant, []*Callback{cb})
}

// Attach gives detached records (see Callback.Detached) their user data
// back, in one read of the durable store.
func (s *Service) Attach(ctx context.Context, tenant string, cbs []*Callback) error {
	var ids []string
	for _, cb := range cbs {
		if cb != nil && cb.Detached {
			ids = append(ids, cb.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	ud, err := s.Durable.UserData(ctx, tenant, ids)
	if err != nil {
		return err
	}
	for _, cb := range cbs {
		if cb != nil && cb.Detached {
			cb.UserData, cb.Detached = ud[cb.ID], false
		}
	}
	return nil
}

// Query lists a tenant's callbacks matching q.
func (s *Service) Query(ctx context.Context, tenant string, q Query) ([]*Callback, error) {
	if err := ValidateQuery(q); err != nil {
		return nil, err
	}
	cbs, err := s.Durable.Query(ctx, tenant, q)
	if err != nil {
		return nil, err
	}
	s.markHeld(ctx, tenant, cbs)
	return cbs, nil
}

// markHeld tells the listed scheduled callbacks that a paused service
// holds back (Callback.Held), so lists show them PAUSED like a single
// read does. Lists come from the durable store; when the hot store cannot
// answer they show the durable state rather than fail.
func (s *Service) markHeld(ctx context.Context, tenant string, cbs []*Callback) {
	var ids []string
	var at []int
	for i, cb := range cbs {
		if cb.State == Scheduled {
			ids, at = append(ids, cb.ID), append(at, i)
		}
	}
	if len(ids) == 0 {
		return
	}
	held, err := s.Hot.HeldAmong(ctx, tenant, ids)
	if err != nil {
		return
	}
	for j, h := range held {
		cbs[at[j]].Held = h
	}
}

// Count counts a tenant's callbacks in the given states, per service.
func (s *Service) Count(ctx context.Context, tenant string, states ...State) (map[string]int, error) {
	return s.Durable.Count(ctx, tenant, states)
}

// Cancel cancels a callback. strict: see Cancel.
func (s *Service) Cancel(ctx context.Context, tenant, id, reason, source string, strict bool) (*Callback, error) {
	if err := ValidateReason(reason); err != nil {
		return nil, err
	}
	var running bool
	cb, err := s.Update(ctx, tenant, id, source, func(cb *Callback) (bool, error) {
		running = (cb.State == Queued || cb.State == Routing) && (cb.Session != "" || cb.Entry != "")
		return Cancel(cb, reason, strict)
	})
	if err == nil && running && cb.State.Final() && s.Interrupted != nil {
		s.Interrupted(cb)
	}
	return cb, err
}

// Report applies a GMS update (ORS progress report, reschedule, key
// changes) to a callback of the service svc.
func (s *Service) Report(ctx context.Context, tenant, svc, id, source string, kv map[string]string) (*Callback, error) {
	if err := ValidateReport(kv); err != nil {
		return nil, err
	}
	var taken *Callback // a callback ORS had, moved back to the schedule
	cb, err := s.update(ctx, tenant, id, source, func(cb *Callback) (bool, error) {
		taken = nil
		if svc != "" && cb.Service != svc {
			return false, ErrNotFound
		}
		if Superseded(cb, kv) {
			return false, nil
		}
		prev := cb.Clone()
		rescheduled, err := ApplyReport(cb, kv, s.Clock.Now())
		if err == nil && !sameDigits(prev.Phone, cb.Phone) {
			err = s.checkNewNumber(ctx, tenant, cb)
		}
		if err != nil || !rescheduled {
			return err == nil, err
		}
		if prev.State.InQueue() {
			taken = prev
		}
		return true, s.placeRescheduled(tenant, cb)
	}, true, nil)
	if err == nil && taken != nil && s.Interrupted != nil {
		s.Interrupted(taken)
	}
	if err == nil && cb != nil && s.Reported != nil {
		s.Reported(cb)
	}
	return cb, err
}

// placeRescheduled checks a new desired time against the service's hours
// and horizon and names its slot; Update then moves the capacity place.
// A time already past is refused: accepted, it would only expire the
// callback (FAIL_TIMEOUT_TTL) after the caller was told it succeeded.
func (s *Service) placeRescheduled(tenant string, cb *Callback) error {
	svc, ok := s.Settings.Service(tenant, cb.Service)
	if !ok {
		return Errorf(KindInvalid, "Unknown service: %s", cb.Service)
	}
	now := s.Clock.Now()
	if cb.Desired.Before(now.Add(-ImmediateWindow)) {
		return Errorf(KindInvalid, "Cannot reschedule callback %s into the past: %s is before the current time %s",
			cb.ID, FormatTime(cb.Desired), FormatTime(now))
	}
	slot, err := s.slotFor(svc, cb.Desired, now)
	if err != nil {
		return err
	}
	cb.SlotStart = slot.Start.UnixMilli()
	cb.Expires = cb.Desired.Add(svc.TTL)
	cb.QueueFrom = queueFrom(svc, cb)
	return nil
}

// queueFrom is the earliest a scheduled callback of svc may be handed off
// (see Callback.HandoffAt): its service's largest lead before the desired
// time, but never before the slot the customer booked starts.
func queueFrom(svc *settings.Service, cb *Callback) time.Time {
	if !svc.QueueAhead || svc.MaxQueueAhead <= 0 {
		return time.Time{}
	}
	from := cb.Desired.Add(-svc.MaxQueueAhead)
	if start := time.UnixMilli(cb.SlotStart).UTC(); cb.SlotStart > 0 && start.After(from) {
		from = start
	}
	if !from.Before(cb.Desired) {
		return time.Time{}
	}
	return from
}

// maxRetries bounds optimistic retries when two writers race on a record.
const maxRetries = 8

// undoTimeout bounds the undo of a refused change: it runs after the
// caller's context may have ended, and must not hang either.
const undoTimeout = 3 * time.Second

func undoContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
}

func unavailable(err error) error {
	return &Error{Kind: KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
}

// Update runs change on the current record and commits the result to both
// stores, retrying when another writer got there first. The change is
// committed in Redis (atomic with its limits and capacity), then in
// Postgres; when Postgres refuses it, Redis is put back, so a change is
// either durable or refused everywhere.
func (s *Service) Update(ctx context.Context, tenant, id, source string, change func(*Callback) (bool, error)) (*Callback, error) {
	return s.update(ctx, tenant, id, source, change, false, nil)
}

// update is Update; keepLater leaves the timer alone when the change only
// moves the record's next check later (ORS' progress reports): the timer
// then fires early, the monitor finds nothing to do and sets it again,
// which costs less than moving it on every report.
// cur, when not nil, is the record as a failed commit found it.
func (s *Service) update(ctx context.Context, tenant, id, source string, change func(*Callback) (bool, error), keepLater bool, cur *Callback) (*Callback, error) {
	if cur == nil && !ids.Valid(id) {
		return nil, ErrNotFound
	}
	for attempt := range maxRetries {
		// The first try may start from this node's copy of its last
		// commit (Recent); anything but a clean commit of it starts over
		// from the stored record.
		guessed := false
		if cur == nil && attempt == 0 {
			cur = s.Recent.get(tenant, id)
			guessed = cur != nil
		}
		if cur == nil {
			var err error
			cur, err = s.Hot.Get(ctx, tenant, id)
			if errors.Is(err, ErrNotFound) {
				if cb, done, err := s.warm(ctx, tenant, id, change); done {
					return cb, err
				}
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		// A change may read or edit the user data: it sees all of it.
		if err := s.Attach(ctx, tenant, []*Callback{cur}); err != nil {
			return nil, err
		}
		next := cur.Clone()
		changed, err := change(next)
		if guessed && (err != nil || !changed) {
			cur = nil
			continue
		}
		if err != nil || !changed {
			return cur, err
		}
		next.Rev = cur.Rev + 1
		next.Updated = s.Clock.Now()
		due, _ := NextCheck(next, s.Policy)
		mv := s.slotMove(cur, next)
		keep := false
		if keepLater {
			prevDue, _ := NextCheck(cur, s.Policy)
			keep = !prevDue.IsZero() && !due.IsZero() && !due.Before(prevDue)
		}
		found, err := s.commit(ctx, cur, next, due, keep, mv)
		if errors.Is(err, ErrConflict) {
			s.Recent.drop(tenant, id)
			cur = found
			continue
		}
		if err != nil && guessed {
			s.Recent.drop(tenant, id)
			cur = nil
			continue
		}
		if err != nil {
			if svc, ok := s.Settings.Service(tenant, next.Service); ok {
				err = s.withProposals(ctx, tenant, svc, next.Desired, err)
			}
			return nil, err
		}
		err = s.Durable.Save(ctx, next, event(next, source))
		if err == nil {
			s.Recent.put(next)
			return next, nil
		}
		s.Recent.drop(tenant, id)
		if err = s.undo(ctx, cur, next, mv, err); err != nil {
			return nil, err
		}
		cur = nil
	}
	return nil, &Error{Kind: KindUnavailable, Msg: "Callback is being changed concurrently, try again"}
}

func event(cb *Callback, source string) Event {
	return Event{At: cb.Updated, Rev: cb.Rev, State: cb.State, Reason: cb.Reason, Source: source}
}

// commit writes a change to the hot store, the cheap way when it is
// simple. On ErrConflict, found is the record the hot store holds when it
// says (nil: to be read).
func (s *Service) commit(ctx context.Context, cur, next *Callback, due time.Time, keep bool, mv SlotMove) (found *Callback, err error) {
	if !Simple(cur, next, mv) {
		return nil, s.Hot.Commit(ctx, cur, next, due, mv)
	}
	errs, founds, err := s.Hot.CommitRecords(ctx, next.Tenant, []Commit{{Prev: cur, Next: next, Due: due, Keep: keep}})
	if err != nil {
		return nil, err
	}
	return founds[0], errs[0]
}

// undo handles a change committed in the hot store that Postgres refused
// (saveErr). A stale one (Postgres moved on without Redis) makes Redis
// take the durable record, and nil is returned: the change is to be tried
// again on it. Any other refusal puts Redis back as it was.
func (s *Service) undo(ctx context.Context, cur, next *Callback, mv SlotMove, saveErr error) error {
	uctx, cancel := undoContext(ctx)
	defer cancel()
	if errors.Is(saveErr, ErrStale) {
		d, err := s.Durable.Get(uctx, next.Tenant, next.ID)
		if err == nil {
			err = s.Repair(uctx, next, d)
		}
		// Redis moved on from next meanwhile: another writer built on it
		// (the monitor's hand-off and ORS' first report race so) and wrote
		// Postgres too; the retry reads what it left.
		if err != nil && !errors.Is(err, ErrConflict) {
			return unavailable(err)
		}
		return nil
	}
	prevDue, _ := NextCheck(cur, s.Policy)
	_, _ = s.commit(uctx, next, cur, prevDue, false, mv.Inverse())
	return unavailable(saveErr)
}

// Change is one change of a batch: Cur is the record as the caller read
// it, Change edits a copy (as in Update).
type Change struct {
	Cur    *Callback
	Change func(*Callback) (bool, error)
}

// Outcome is what became of one change of a batch: the record after it,
// whether the change was made, and the error that stopped it.
type Outcome struct {
	CB      *Callback
	Changed bool
	Err     error
}

// UpdateMany applies changes to records of one tenant the caller has just
// read, like Update but for a batch: simple changes share one hot-store
// round trip and one durable write, and no record is read again. A change
// that raced with another writer, or is not simple, goes through Update.
func (s *Service) UpdateMany(ctx context.Context, tenant, source string, cs []Change) []Outcome {
	out := make([]Outcome, len(cs))
	curs := make([]*Callback, len(cs))
	for i, c := range cs {
		curs[i] = c.Cur
	}
	if err := s.Attach(ctx, tenant, curs); err != nil {
		for i := range out {
			out[i] = Outcome{Err: err}
		}
		return out
	}
	var batch []Commit
	var at []int // index in cs of each batch entry
	var moves []SlotMove
	now := s.Clock.Now()
	for i, c := range cs {
		next := c.Cur.Clone()
		changed, err := c.Change(next)
		if err != nil || !changed {
			out[i] = Outcome{CB: c.Cur, Err: err}
			continue
		}
		next.Rev, next.Updated = c.Cur.Rev+1, now
		mv := s.slotMove(c.Cur, next)
		if !Simple(c.Cur, next, mv) {
			out[i] = s.updateOne(ctx, tenant, c, source, nil)
			continue
		}
		due, _ := NextCheck(next, s.Policy)
		batch = append(batch, Commit{Prev: c.Cur, Next: next, Due: due})
		at = append(at, i)
		moves = append(moves, mv)
	}
	if len(batch) == 0 {
		return out
	}
	errs, found, err := s.Hot.CommitRecords(ctx, tenant, batch)
	if err != nil {
		for _, i := range at {
			out[i] = Outcome{Err: err}
		}
		return out
	}
	var saved []int // index in batch
	var cbs []*Callback
	var evs []Event
	for j, i := range at {
		if errs[j] != nil { // another writer was first: start over on its record
			out[i] = s.updateOne(ctx, tenant, cs[i], source, found[j])
			continue
		}
		saved = append(saved, j)
		cbs = append(cbs, batch[j].Next)
		evs = append(evs, event(batch[j].Next, source))
	}
	serrs := s.Durable.SaveMany(ctx, cbs, evs)
	for k, j := range saved {
		i := at[j]
		if serrs[k] == nil {
			s.Recent.put(batch[j].Next)
			out[i] = Outcome{CB: batch[j].Next, Changed: true}
			continue
		}
		s.Recent.drop(tenant, batch[j].Next.ID)
		if err := s.undo(ctx, batch[j].Prev, batch[j].Next, moves[j], serrs[k]); err != nil {
			out[i] = Outcome{Err: err}
			continue
		}
		out[i] = s.updateOne(ctx, tenant, cs[i], source, nil)
	}
	return out
}

// updateOne is Update for one change of a batch, from the record found
// (nil: read it).
func (s *Service) updateOne(ctx context.Context, tenant string, c Change, source string, found *Callback) Outcome {
	changed := false
	cb, err := s.update(ctx, tenant, c.Cur.ID, source, func(cb *Callback) (bool, error) {
		ok, err := c.Change(cb)
		changed = ok && err == nil
		return ok, err
	}, false, found)
	return Outcome{CB: cb, Changed: changed && err == nil, Err: err}
}

// Repair turns the hot record hot into the durable record d (the truth): the
// record, its timer and its capacity place. It fails with ErrConflict when
// hot is no longer current.
func (s *Service) Repair(ctx context.Context, hot, d *Callback) error {
	due, _ := NextCheck(d, s.Policy)
	mv := SlotMove{Release: holdsPlace(hot), Take: holdsPlace(d), Force: true}
	if mv.Release && mv.Take && hot.SlotStart == d.SlotStart {
		mv = SlotMove{}
	}
	return s.Hot.Commit(ctx, hot, d, due, mv)
}

// holdsPlace tells whether a record counts in its slot's capacity: a
// scheduled callback holds its place until it ends before its time.
func holdsPlace(cb *Callback) bool {
	return cb.SlotStart > 0 && (!cb.State.Final() || !cb.Updated.Before(cb.Desired))
}

// warm handles a record the hot store does not hold: a completed one it let
// go (done: the change is refused or a no-op), or a live one Redis lost,
// which is put back from Postgres so that the change goes on (not done), as
// writes are served while a restore runs.
func (s *Service) warm(ctx context.Context, tenant, id string, change func(*Callback) (bool, error)) (cb *Callback, done bool, err error) {
	cb, err = s.Durable.Get(ctx, tenant, id)
	if err != nil {
		return nil, true, err
	}
	if !cb.State.Final() {
		due, _ := NextCheck(cb, s.Policy)
		if _, err := s.Hot.Restore(ctx, cb, due); err != nil {
			return nil, true, unavailable(err)
		}
		return nil, false, nil
	}
	probe := cb.Clone()
	if changed, err := change(probe); err != nil || !changed {
		return cb, true, err
	}
	return nil, true, Errorf(KindConflict, "Callback %s is already completed", id)
}

// slotMove derives the capacity change of a record change: a callback that
// ends before its time gives its place back; a reschedule moves it.
func (s *Service) slotMove(cur, next *Callback) SlotMove {
	var mv SlotMove
	if next.SlotStart != cur.SlotStart {
		mv.Release = cur.SlotStart > 0
		if next.SlotStart > 0 && !next.State.Final() {
			mv.Take = true
			if svc, ok := s.Settings.Service(next.Tenant, next.Service); ok {
				if slot, ok := svc.Plan.SlotAt(time.UnixMilli(next.SlotStart)); ok {
					mv.Total = slot.Total
				}
			}
		}
		return mv
	}
	if next.State.Final() && !cur.State.Final() && cur.SlotStart > 0 && s.Clock.Now().Before(cur.Desired) {
		mv.Release = true
	}
	return mv
}

// slotFor finds the slot a scheduled callback at t books, refusing times
// outside the service's hours or beyond its horizon.
func (s *Service) slotFor(svc *settings.Service, t, now time.Time) (schedule.Slot, error) {
	if t.After(now.AddDate(0, 0, svc.HorizonDays)) {
		return schedule.Slot{}, Errorf(KindInvalid, "desiredTime %s is beyond the scheduling horizon of %d days", FormatTime(t), svc.HorizonDays)
	}
	slot, ok := svc.Plan.SlotAt(t)
	if !ok {
		return schedule.Slot{}, Errorf(KindInvalid, "desiredTime %s is outside the business hours of service %s", FormatTime(t), svc.Name)
	}
	return slot, nil
}

// ProposalCount is how many free slots a "no capacity" answer proposes.
const ProposalCount = 5

// withProposals adds the nearest free slots to a "no capacity" error.
func (s *Service) withProposals(ctx context.Context, tenant string, svc *settings.Service, desired time.Time, err error) error {
	var de *Error
	if !errors.As(err, &de) || de.Kind != KindNoCapacity {
		return err
	}
	now := s.Clock.Now()
	from := desired.Add(-24 * time.Hour)
	if from.Before(now) {
		from = now
	}
	free, ferr := s.Availability(ctx, tenant, svc, from, desired.Add(48*time.Hour))
	if ferr != nil {
		return err
	}
	sort.SliceStable(free, func(i, j int) bool { return absDur(free[i].Start.Sub(desired)) < absDur(free[j].Start.Sub(desired)) })
	de.Slots = map[string]string{}
	for _, f := range free {
		if f.Free <= 0 {
			continue
		}
		de.Slots[FormatTime(f.Start)] = strconv.Itoa(f.Free)
		if len(de.Slots) == ProposalCount {
			break
		}
	}
	return de
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// SlotFree is a slot with its free and configured places.
type SlotFree struct {
	Start, End  time.Time
	Free, Total int
}

// MaxWindow bounds an availability request.
const MaxWindow = 31 * 24 * time.Hour

// Availability lists the service's slots starting in [from, to) that have
// not started yet, with their free places (0 = busy).
func (s *Service) Availability(ctx context.Context, tenant string, svc *settings.Service, from, to time.Time) ([]SlotFree, error) {
	now := s.Clock.Now()
	if from.Before(now) {
		from = now
	}
	load, err := s.Load(ctx, tenant, svc, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]SlotFree, len(load))
	for i, l := range load {
		out[i] = SlotFree{Start: l.Start, End: l.End, Total: l.Total, Free: max(l.Total-l.Booked, 0)}
	}
	return out, nil
}

// ServiceSettings returns a tenant's service, or an "Unknown service" error.
func (s *Service) ServiceSettings(tenant, name string) (*settings.Service, error) {
	svc, ok := s.Settings.Service(tenant, name)
	if !ok {
		return nil, Errorf(KindInvalid, "Unknown service: %s", name)
	}
	return svc, nil
}
