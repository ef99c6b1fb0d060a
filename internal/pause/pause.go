// Package pause lets an administrator pause a callback service: while it
// is paused its due callbacks are held back from ORS (the monitor keeps
// them with their due times), creates are still accepted, and on resume
// the held callbacks go back to their timers and are handed off in due
// order, each once. Postgres holds the truth of what is paused; Redis a
// copy the monitor checks in the same step as each hold.
package pause

import (
	"context"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/clock"
)

// Paused is a service an administrator paused.
type Paused struct {
	Tenant, Service, By string
	At                  time.Time
	// Held counts its due callbacks held back (from Redis; lists only).
	Held int
}

// Durable is the truth of what is paused.
type Durable interface {
	Pause(ctx context.Context, p Paused) error
	Resume(ctx context.Context, tenant, service string) (bool, error)
	PausedServices(ctx context.Context, tenant string) ([]Paused, error)
}

// Hot is the copy the monitor checks, and the callbacks it holds back.
type Hot interface {
	Pause(ctx context.Context, tenant, service string) error
	Resume(ctx context.Context, tenant, service string) (int, error)
	SetPaused(ctx context.Context, tenant string, services []string) error
	HeldCount(ctx context.Context, tenant string) (map[string]int, error)
}

// Service pauses and resumes the callback services of tenants.
type Service struct {
	Durable  Durable
	Hot      Hot
	Settings callback.Settings
	Clock    clock.Clock
}

func unavailable(err error) error {
	return &callback.Error{Kind: callback.KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
}

// Pause pauses a service of tenant on behalf of by. Pausing a paused
// service keeps its first pause.
func (s *Service) Pause(ctx context.Context, tenant, service, by string) (Paused, error) {
	if _, ok := s.Settings.Service(tenant, service); !ok {
		return Paused{}, callback.Errorf(callback.KindNotFound, "Unknown service: %s", service)
	}
	p := Paused{Tenant: tenant, Service: service, By: by, At: s.Clock.Now().UTC().Truncate(time.Millisecond)}
	// Postgres first: a pause answered 200 survives the loss of Redis.
	if err := s.Durable.Pause(ctx, p); err != nil {
		return Paused{}, unavailable(err)
	}
	if err := s.Hot.Pause(ctx, tenant, service); err != nil {
		return Paused{}, err
	}
	for _, q := range s.list(ctx, tenant) {
		if q.Service == service {
			return q, nil
		}
	}
	return p, nil
}

// Resume resumes a service; its held callbacks go back to their timers.
// It returns how many. Resuming a service that is not paused changes
// nothing (and still gives back what Redis might hold, so a retry after a
// failure completes the resume).
func (s *Service) Resume(ctx context.Context, tenant, service string) (int, error) {
	if _, err := s.Durable.Resume(ctx, tenant, service); err != nil {
		return 0, unavailable(err)
	}
	return s.Hot.Resume(ctx, tenant, service)
}

// List returns the paused services of tenant with their held counts.
func (s *Service) List(ctx context.Context, tenant string) ([]Paused, error) {
	ps, err := s.Durable.PausedServices(ctx, tenant)
	if err != nil {
		return nil, unavailable(err)
	}
	held, err := s.Hot.HeldCount(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		ps[i].Held = held[ps[i].Service]
	}
	return ps, nil
}

func (s *Service) list(ctx context.Context, tenant string) []Paused {
	ps, _ := s.Durable.PausedServices(ctx, tenant)
	return ps
}

// Restore copies what Postgres says is paused into Redis: after a restore
// of Redis, before the monitor may dial again.
func (s *Service) Restore(ctx context.Context) error {
	ps, err := s.Durable.PausedServices(ctx, "")
	if err != nil {
		return err
	}
	by := map[string][]string{}
	for _, p := range ps {
		by[p.Tenant] = append(by[p.Tenant], p.Service)
	}
	for tenant, svcs := range by {
		if err := s.Hot.SetPaused(ctx, tenant, svcs); err != nil {
			return err
		}
	}
	return nil
}
