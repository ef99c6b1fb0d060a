package numbers

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/settings"
)

// Store keeps the rules of every tenant (Postgres).
type Store interface {
	// NumberRules lists the rules of tenant ("": of every tenant), each
	// with its services, keyed by tenant.
	NumberRules(ctx context.Context, tenant string) (map[string][]*Rule, error)
	// PutNumberRule creates or replaces a rule and makes it the rule of
	// its services (taking them from other rules).
	PutNumberRule(ctx context.Context, tenant string, r *Rule) error
	// DeleteNumberRule deletes a rule; it reports whether it existed.
	DeleteNumberRule(ctx context.Context, tenant, name string) (bool, error)
}

// ErrUnknownRule is returned for a rule that does not exist.
var ErrUnknownRule = errors.New("no such number rule")

// DefaultRefresh is how often the rules are read again from Postgres, so
// that a change made on another node applies within it.
const DefaultRefresh = 2 * time.Second

// Service applies the rules on create and manages them. Creates read the
// rules from memory: a snapshot of every tenant's rules, read again every
// Refresh and at once after a change made through this node.
type Service struct {
	Store    Store
	Settings callback.Settings
	Clock    clock.Clock
	Refresh  time.Duration
	// Loaded is told about each successful read of the rules (tests).
	Loaded func()

	mu     sync.Mutex
	byTen  map[string]map[string]*Rule // tenant → service → rule
	rules  map[string][]*Rule          // tenant → rules by name
	loaded bool
}

func unavailable(err error) error {
	return &callback.Error{Kind: callback.KindUnavailable, Msg: "Number rules are unavailable, try again", Err: err}
}

// load reads every tenant's rules into the snapshot.
func (s *Service) load(ctx context.Context) error {
	all, err := s.Store.NumberRules(ctx, "")
	if err != nil {
		return err
	}
	by := map[string]map[string]*Rule{}
	for tenant, rs := range all {
		m := map[string]*Rule{}
		for _, r := range rs {
			_ = r.Validate()
			for _, svc := range r.Services {
				m[svc] = r
			}
		}
		by[tenant] = m
	}
	s.mu.Lock()
	s.byTen, s.rules, s.loaded = by, all, true
	s.mu.Unlock()
	if s.Loaded != nil {
		s.Loaded()
	}
	return nil
}

// Run reads the rules again every Refresh until ctx ends. A failed read
// keeps the last snapshot.
func (s *Service) Run(ctx context.Context) error {
	every := s.Refresh
	if every <= 0 {
		every = DefaultRefresh
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.mu.Lock()
		loaded := s.loaded
		s.mu.Unlock()
		if !loaded {
			if err := s.load(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("number rules: could not read them", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.load(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("number rules: could not read them again, keeping the last ones", "err", err)
		}
	}
}

// ruleOf returns the rule on a tenant's service (nil: none).
func (s *Service) ruleOf(ctx context.Context, tenant, service string) (*Rule, error) {
	s.mu.Lock()
	loaded := s.loaded
	s.mu.Unlock()
	if !loaded {
		if err := s.load(ctx); err != nil {
			return nil, unavailable(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byTen[tenant][service], nil
}

func options(svc *settings.Service) Options {
	return Options{DefaultCountry: svc.DefaultCountry, DisallowImpossible: svc.DisallowImpossible, DisallowPremium: svc.DisallowPremium}
}

// CheckNumber is the check of a create (callback.NumberChecker): the
// number to store, or a KindInvalid error naming why it is refused. A
// service without a rule takes every number; with Normalize E164 the
// number is stored in E.164 whenever it can be read.
func (s *Service) CheckNumber(ctx context.Context, tenant string, svc *settings.Service, phone string) (string, error) {
	r, err := s.ruleOf(ctx, tenant, svc.Name)
	if err != nil {
		return "", err
	}
	if r == nil {
		if svc.NormalizeE164 {
			if p, ok := Parse(phone, svc.DefaultCountry); ok {
				return p.E164, nil
			}
		}
		return phone, nil
	}
	v := r.Check(phone, options(svc))
	if !v.Allowed {
		return "", callback.Errorf(callback.KindInvalid, "phoneNumber refused for service %s: %s", svc.Name, v.Message)
	}
	if svc.NormalizeE164 {
		return v.E164, nil
	}
	return phone, nil
}

// List returns a tenant's rules by name, read from Postgres.
func (s *Service) List(ctx context.Context, tenant string) ([]*Rule, error) {
	all, err := s.Store.NumberRules(ctx, tenant)
	if err != nil {
		return nil, unavailable(err)
	}
	return all[tenant], nil
}

// Get returns one rule of a tenant.
func (s *Service) Get(ctx context.Context, tenant, name string) (*Rule, error) {
	rs, err := s.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, callback.Errorf(callback.KindNotFound, "Unknown number rule: %s", truncate(name, MaxNameLen))
}

// Put creates or replaces a rule of tenant on behalf of by; its services
// must be services of the tenant.
func (s *Service) Put(ctx context.Context, tenant, by string, r *Rule) error {
	if err := r.Validate(); err != nil {
		return callback.Errorf(callback.KindInvalid, "%s", err.Error())
	}
	for _, svc := range r.Services {
		if _, ok := s.Settings.Service(tenant, svc); !ok {
			return callback.Errorf(callback.KindInvalid, "rule %s: unknown service %s", r.Name, truncate(svc, 64))
		}
	}
	r.UpdatedAt, r.UpdatedBy = s.Clock.Now().UTC().Truncate(time.Millisecond), by
	if err := s.Store.PutNumberRule(ctx, tenant, r); err != nil {
		return unavailable(err)
	}
	s.reload(ctx)
	return nil
}

// Delete deletes a rule of tenant: its services take every number again.
func (s *Service) Delete(ctx context.Context, tenant, name string) error {
	ok, err := s.Store.DeleteNumberRule(ctx, tenant, name)
	if err != nil {
		return unavailable(err)
	}
	if !ok {
		return callback.Errorf(callback.KindNotFound, "Unknown number rule: %s", truncate(name, MaxNameLen))
	}
	s.reload(ctx)
	return nil
}

// reload applies a change of this node at once; should the read fail, the
// next refresh applies it.
func (s *Service) reload(ctx context.Context) {
	if err := s.load(context.WithoutCancel(ctx)); err != nil {
		slog.Warn("number rules: could not read them after a change", "err", err)
	}
}

// Test judges a number: under the named rule, or under the rule of the
// named service (with the service's options), or both empty: the rule of
// no service, which permits every readable number.
func (s *Service) Test(ctx context.Context, tenant, rule, service, number string) (Verdict, error) {
	o := Options{DisallowImpossible: true, DisallowPremium: true}
	var r *Rule
	switch {
	case service != "":
		svc, ok := s.Settings.Service(tenant, service)
		if !ok {
			return Verdict{}, callback.Errorf(callback.KindNotFound, "Unknown service: %s", truncate(service, 64))
		}
		o = options(svc)
		rs, err := s.List(ctx, tenant)
		if err != nil {
			return Verdict{}, err
		}
		for _, x := range rs {
			for _, sv := range x.Services {
				if sv == service && (rule == "" || rule == x.Name) {
					r = x
				}
			}
		}
		if r == nil && rule != "" {
			return Verdict{}, callback.Errorf(callback.KindInvalid, "Rule %s is not the rule of service %s", truncate(rule, MaxNameLen), truncate(service, 64))
		}
	case rule != "":
		x, err := s.Get(ctx, tenant, rule)
		if err != nil {
			return Verdict{}, err
		}
		r = x
	}
	if r == nil {
		v := Verdict{Number: number, Allowed: true}
		if p, ok := Parse(number, o.DefaultCountry); ok {
			v.E164, v.Country = p.E164, p.Country
		}
		v.Message = "no number rule is on service " + service + ": every number is accepted"
		return v, nil
	}
	return r.Check(number, o), nil
}
