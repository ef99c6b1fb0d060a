package numbers

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/settings"
)

// memStore is a Store in memory, shared by the services of two "nodes".
type memStore struct {
	mu    sync.Mutex
	rules map[string]map[string]Rule
	fail  error
}

func (m *memStore) NumberRules(_ context.Context, tenant string) (map[string][]*Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	out := map[string][]*Rule{}
	for t, rs := range m.rules {
		if tenant != "" && t != tenant {
			continue
		}
		for _, r := range rs {
			r := r
			out[t] = append(out[t], &r)
		}
	}
	return out, nil
}

func (m *memStore) PutNumberRule(_ context.Context, tenant string, r *Rule) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rules[tenant] == nil {
		m.rules[tenant] = map[string]Rule{}
	}
	for name, o := range m.rules[tenant] { // a service has one rule
		var keep []string
		for _, s := range o.Services {
			if !contains(r.Services, s) {
				keep = append(keep, s)
			}
		}
		o.Services = keep
		m.rules[tenant][name] = o
	}
	m.rules[tenant][r.Name] = *r
	return nil
}

func (m *memStore) DeleteNumberRule(_ context.Context, tenant, name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.rules[tenant][name]
	delete(m.rules[tenant], name)
	return ok, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

type oneTable struct{ svcs map[string]*settings.Service }

func (o oneTable) Service(_, name string) (*settings.Service, bool) {
	s, ok := o.svcs[name]
	return s, ok
}

func TestServiceAppliesRulesAcrossNodes(t *testing.T) {
	ctx := context.Background()
	sales := &settings.Service{Name: "Sales", DefaultCountry: "US", DisallowImpossible: true, DisallowPremium: true}
	norm := &settings.Service{Name: "Norm", DefaultCountry: "GB", NormalizeE164: true}
	st := &memStore{rules: map[string]map[string]Rule{}}
	tables := oneTable{map[string]*settings.Service{"Sales": sales, "Norm": norm}}
	a := &Service{Store: st, Settings: tables, Clock: clock.System{}}
	b := &Service{Store: st, Settings: tables, Clock: clock.System{}}

	// Without a rule every number is taken; Normalize E164 stores E.164.
	if p, err := a.CheckNumber(ctx, "t1", sales, "+1555"); err != nil || p != "+1555" {
		t.Fatalf("no rule: %q %v", p, err)
	}
	if p, err := a.CheckNumber(ctx, "t1", norm, "020 7946 0000"); err != nil || p != "+442079460000" {
		t.Fatalf("normalised: %q %v", p, err)
	}
	if err := a.Put(ctx, "t1", "ann", &Rule{Name: "R", Countries: []string{"US"}, Services: []string{"Nope"}}); callback.KindOf(err) != callback.KindInvalid {
		t.Fatalf("rule on an unknown service: %v", err)
	}
	if err := a.Put(ctx, "t1", "ann", &Rule{Name: "R", Countries: []string{"US"}, Services: []string{"Sales"}}); err != nil {
		t.Fatal(err)
	}
	// Node a applies its own change at once; node b once it reads again.
	if _, err := a.CheckNumber(ctx, "t1", sales, "+442079460000"); callback.KindOf(err) != callback.KindInvalid {
		t.Fatalf("node a: a GB number on a US rule: %v", err)
	}
	if _, err := a.CheckNumber(ctx, "t2", sales, "+442079460000"); err != nil {
		t.Fatalf("another tenant's rule applied: %v", err)
	}
	if _, err := b.CheckNumber(ctx, "t1", sales, "+442079460000"); callback.KindOf(err) != callback.KindInvalid {
		t.Fatalf("node b (first read): %v", err)
	}
	if err := a.Delete(ctx, "t1", "R"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CheckNumber(ctx, "t1", sales, "+442079460000"); err == nil {
		t.Fatalf("node b applied the delete before reading again")
	}
	// A failed read keeps the last rules.
	st.fail = errors.New("down")
	if err := b.load(ctx); err == nil {
		t.Fatal("load did not fail")
	}
	if _, err := b.CheckNumber(ctx, "t1", sales, "+442079460000"); err == nil {
		t.Fatalf("the failed read dropped the rules")
	}
	st.fail = nil
	if err := b.load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CheckNumber(ctx, "t1", sales, "+442079460000"); err != nil {
		t.Fatalf("node b after reading again: %v", err)
	}
	// Before any read, a store that fails refuses (503), not accepts.
	st.fail = errors.New("down")
	c := &Service{Store: st, Settings: tables, Clock: clock.System{}}
	if _, err := c.CheckNumber(ctx, "t1", sales, "+12015550123"); callback.KindOf(err) != callback.KindUnavailable {
		t.Fatalf("first read failed: %v", err)
	}
}
