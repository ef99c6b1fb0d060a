package callback

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/ids"
	"github.com/gesgo/ges/internal/settings"
)

// Admission are the limits checked atomically with the insert of a record.
type Admission struct {
	MaxPerNumber int // 0 = no limit
}

// Hot is the hot store (Redis): the live record and its timers. Every
// change is one atomic step.
type Hot interface {
	// Admit inserts cb if the limits allow. due is the first timer.
	Admit(ctx context.Context, cb *Callback, a Admission, due time.Time) error
	Get(ctx context.Context, tenant, id string) (*Callback, error)
	// Commit replaces prev by next if prev is still current (same Rev),
	// and sets next's timer (zero = none). ErrConflict otherwise.
	Commit(ctx context.Context, prev, next *Callback, due time.Time) error
	// Forget undoes an Admit whose durable write failed.
	Forget(ctx context.Context, cb *Callback) error
}

// Durable is the 14-day store (Postgres).
type Durable interface {
	Save(ctx context.Context, cb *Callback, ev Event) error
	Get(ctx context.Context, tenant, id string) (*Callback, error)
	Query(ctx context.Context, tenant string, q Query) ([]*Callback, error)
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
}

// CreateRequest is a booking, whatever API it came from.
type CreateRequest struct {
	Service  string
	Phone    string
	Desired  time.Time // zero = as soon as possible
	Props    map[string]string
	UserData json.RawMessage
	Source   string
}

// ImmediateWindow is how close to now a desired time books an immediate
// callback rather than a scheduled one: clocks of callers differ a little,
// and a time a second away is "now" for a customer.
const ImmediateWindow = time.Second

// Create books a callback.
func (s *Service) Create(ctx context.Context, tenant string, r CreateRequest) (*Callback, error) {
	svc, ok := s.Settings.Service(tenant, r.Service)
	if !ok {
		return nil, Errorf(KindInvalid, "Unknown service: %s", r.Service)
	}
	if strings.TrimSpace(r.Phone) == "" {
		return nil, Errorf(KindInvalid, "phoneNumber is required")
	}
	now := s.Clock.Now()
	cb := &Callback{
		ID: ids.New(), Tenant: tenant, Service: r.Service, Phone: strings.TrimSpace(r.Phone),
		State: Scheduled, Created: now, Updated: now, EWT: -1, Rev: 1,
		Props: map[string]string{}, UserData: r.UserData,
	}
	for k, v := range r.Props {
		if v != "" {
			cb.Props[k] = v
		}
	}
	if !r.Desired.IsZero() && r.Desired.After(now.Add(ImmediateWindow)) {
		if !svc.OfferScheduled {
			return nil, Errorf(KindInvalid, "Scheduled callbacks are not offered for service %s", svc.Name)
		}
		if r.Desired.After(now.AddDate(0, 0, svc.HorizonDays)) {
			return nil, Errorf(KindInvalid, "desiredTime %s is beyond the scheduling horizon of %d days", FormatTime(r.Desired), svc.HorizonDays)
		}
		cb.Desired, cb.Scheduled = r.Desired.UTC(), true
	} else {
		if !svc.OfferImmediate {
			return nil, Errorf(KindInvalid, "Immediate callbacks are not offered for service %s", svc.Name)
		}
		cb.Desired = now
	}
	cb.Expires = cb.Desired.Add(svc.TTL)
	due, _ := NextCheck(cb, s.Policy)
	if err := s.Hot.Admit(ctx, cb, Admission{MaxPerNumber: svc.MaxPerNumber}, due); err != nil {
		return nil, err
	}
	if err := s.Durable.Save(ctx, cb, Event{At: now, Rev: cb.Rev, State: cb.State, Source: r.Source}); err != nil {
		// Without the durable copy the booking could be lost with Redis:
		// take it back and say so.
		_ = s.Hot.Forget(context.WithoutCancel(ctx), cb)
		return nil, &Error{Kind: KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
	}
	if s.Created != nil {
		s.Created(tenant)
	}
	return cb, nil
}

// Get returns a callback of the tenant: the live record, or the durable
// copy once the hot store has let a completed record go.
func (s *Service) Get(ctx context.Context, tenant, id string) (*Callback, error) {
	cb, err := s.Hot.Get(ctx, tenant, id)
	if errors.Is(err, ErrNotFound) {
		return s.Durable.Get(ctx, tenant, id)
	}
	return cb, err
}

// Query lists a tenant's callbacks matching q.
func (s *Service) Query(ctx context.Context, tenant string, q Query) ([]*Callback, error) {
	return s.Durable.Query(ctx, tenant, q)
}

// Cancel cancels a callback. strict: see Cancel.
func (s *Service) Cancel(ctx context.Context, tenant, id, reason, source string, strict bool) (*Callback, error) {
	return s.Update(ctx, tenant, id, source, func(cb *Callback) (bool, error) {
		return Cancel(cb, reason, strict)
	})
}

// Report applies a GMS update (ORS progress report, reschedule, key
// changes) to a callback of the service svc.
func (s *Service) Report(ctx context.Context, tenant, svc, id, source string, kv map[string]string) (*Callback, error) {
	return s.Update(ctx, tenant, id, source, func(cb *Callback) (bool, error) {
		if svc != "" && cb.Service != svc {
			return false, ErrNotFound
		}
		if _, err := ApplyReport(cb, kv, s.Clock.Now()); err != nil {
			return false, err
		}
		return true, nil
	})
}

// maxRetries bounds optimistic retries when two writers race on a record.
const maxRetries = 8

// Update runs change on the current record and commits the result
// atomically, retrying when another writer got there first.
func (s *Service) Update(ctx context.Context, tenant, id, source string, change func(*Callback) (bool, error)) (*Callback, error) {
	for range maxRetries {
		cur, err := s.Hot.Get(ctx, tenant, id)
		if errors.Is(err, ErrNotFound) {
			return s.updateCold(ctx, tenant, id, change)
		}
		if err != nil {
			return nil, err
		}
		next := cur.Clone()
		changed, err := change(next)
		if err != nil || !changed {
			return cur, err
		}
		next.Rev = cur.Rev + 1
		next.Updated = s.Clock.Now()
		due, _ := NextCheck(next, s.Policy)
		err = s.Hot.Commit(ctx, cur, next, due)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return next, s.save(ctx, next, source)
	}
	return nil, &Error{Kind: KindUnavailable, Msg: "Callback is being changed concurrently, try again"}
}

// updateCold handles a record the hot store does not hold: a completed one
// it let go (changes are refused or no-ops), or one not restored yet after a
// Redis loss.
func (s *Service) updateCold(ctx context.Context, tenant, id string, change func(*Callback) (bool, error)) (*Callback, error) {
	cb, err := s.Durable.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if !cb.State.Final() {
		return nil, &Error{Kind: KindUnavailable, Msg: "Callback store is being restored, try again"}
	}
	probe := cb.Clone()
	if changed, err := change(probe); err != nil || !changed {
		return cb, err
	}
	return nil, Errorf(KindConflict, "Callback %s is already completed", id)
}

// Save writes the durable copy of a changed record with its history entry.
func (s *Service) save(ctx context.Context, cb *Callback, source string) error {
	ev := Event{At: cb.Updated, Rev: cb.Rev, State: cb.State, Reason: cb.Reason, Source: source}
	if err := s.Durable.Save(ctx, cb, ev); err != nil {
		return &Error{Kind: KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
	}
	return nil
}

// Persist is save for the monitor, which commits the hot record itself.
func (s *Service) Persist(ctx context.Context, cb *Callback, source string) error {
	return s.save(ctx, cb, source)
}
