package callin

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/ids"
)

// Store keeps groups and reservations durably, shared by every GES node.
type Store interface {
	// PutGroup creates or replaces a group (its cursor is kept); a
	// *NumberInUseError when a number belongs to another group.
	PutGroup(ctx context.Context, tenant string, g *Group) error
	Groups(ctx context.Context, tenant string) ([]*Group, error)
	// Group returns nil when the tenant has no such group.
	Group(ctx context.Context, tenant, name string) (*Group, error)
	// DeleteGroup removes a group and its reservations; false when unknown.
	DeleteGroup(ctx context.Context, tenant, name string) (bool, error)
	// Reservations lists the group's reservations live at now.
	Reservations(ctx context.Context, tenant, group string, now time.Time) ([]Reservation, error)
	// Reserve holds the group exclusively (against every node), drops the
	// expired reservations of its numbers, calls pick with the group and
	// the live reservations holding its numbers, and stores the
	// reservation and the cursor pick returns, all in one transaction.
	// It returns nil, nil when the group is unknown.
	Reserve(ctx context.Context, tenant, group string, now time.Time,
		pick func(g *Group, live []Reservation) (*Reservation, int, error)) (*Reservation, error)
	// Release deletes and returns the oldest reservation of number live at
	// now, with code when code is not empty, that accept accepts; nil when
	// none. Two concurrent releases never return the same reservation.
	Release(ctx context.Context, tenant, number, code string, now time.Time, accept func(*Reservation) bool) (*Reservation, error)
	// Sweep deletes up to limit reservations expired at now.
	Sweep(ctx context.Context, now time.Time, limit int) (int, error)
}

// Service is the set of Click-To-Call-In use cases shared by both APIs.
type Service struct {
	Store Store
	Clock clock.Clock
	// Intn draws random numbers (codes, random allocation); nil = math/rand/v2.
	Intn func(n int) int
	// Created is told about each request that got a number (metrics).
	Created func(tenant string)
}

// Request is an ask for an access number.
type Request struct {
	Group             string
	FromPhone         string
	UserData          []byte // a JSON object, or nil
	CallbackServiceID string
}

func (s *Service) intn(n int) int {
	if s.Intn != nil {
		return s.Intn(n)
	}
	return rand.IntN(n)
}

func unavailable(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: KindUnavailable, Msg: "Click-To-Call-In storage is unavailable, try again", Err: err}
}

// PutGroup validates and stores a group.
func (s *Service) PutGroup(ctx context.Context, tenant string, g *Group) error {
	if err := g.Normalize(); err != nil {
		return err
	}
	g.UpdatedAt = s.Clock.Now()
	err := s.Store.PutGroup(ctx, tenant, g)
	var inUse *NumberInUseError
	if errors.As(err, &inUse) {
		return &Error{Kind: KindInvalid, Msg: inUse.Error() + "; remove it there first", Err: err}
	}
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Groups lists a tenant's groups.
func (s *Service) Groups(ctx context.Context, tenant string) ([]*Group, error) {
	gs, err := s.Store.Groups(ctx, tenant)
	if err != nil {
		return nil, unavailable(err)
	}
	return gs, nil
}

// Group returns a group and its live reservations.
func (s *Service) Group(ctx context.Context, tenant, name string) (*Group, []Reservation, error) {
	g, err := s.Store.Group(ctx, tenant, name)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	if g == nil {
		return nil, nil, Errorf(KindNotFound, "Unknown Click-To-Call-In group: %s", name)
	}
	rs, err := s.Store.Reservations(ctx, tenant, name, s.Clock.Now())
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return g, rs, nil
}

// DeleteGroup removes a group; its reservations no longer match.
func (s *Service) DeleteGroup(ctx context.Context, tenant, name string) error {
	ok, err := s.Store.DeleteGroup(ctx, tenant, name)
	if err != nil {
		return unavailable(err)
	}
	if !ok {
		return Errorf(KindNotFound, "Unknown Click-To-Call-In group: %s", name)
	}
	return nil
}

// Request lends a number (and code) of the group to a new request.
func (s *Service) Request(ctx context.Context, tenant string, req Request) (*Reservation, error) {
	req.Group = strings.TrimSpace(req.Group)
	if req.Group == "" {
		return nil, Errorf(KindInvalid, "groupName is required")
	}
	now := s.Clock.Now()
	r, err := s.Store.Reserve(ctx, tenant, req.Group, now, func(g *Group, live []Reservation) (*Reservation, int, error) {
		number, code, cursor, err := Pick(g, live, s.intn)
		if err != nil {
			return nil, 0, err
		}
		return &Reservation{
			ID: ids.New(), Group: g.Name, Number: number, Code: code,
			FromPhone: strings.TrimSpace(req.FromPhone), UserData: req.UserData,
			CallbackServiceID: req.CallbackServiceID,
			Created:           now, Expires: now.Add(g.Expiry),
		}, cursor, nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if r == nil {
		return nil, Errorf(KindInvalid, "Unknown Click-To-Call-In group: %s", req.Group)
	}
	if s.Created != nil {
		s.Created(tenant)
	}
	return r, nil
}

// Match finds the live reservation an incoming call answers and releases
// it: the number (and code) are free again.
func (s *Service) Match(ctx context.Context, tenant string, c Criteria) (*Reservation, error) {
	if err := c.Normalize(); err != nil {
		return nil, err
	}
	r, err := s.Store.Release(ctx, tenant, c.Number, c.Code, s.Clock.Now(), c.Accepts)
	if err != nil {
		return nil, unavailable(err)
	}
	if r == nil {
		return nil, Errorf(KindNotFound, "No Click-To-Call-In request matches access number %s", c.Number)
	}
	return r, nil
}

// RunSweeper deletes expired reservations every interval until ctx ends.
// Nothing depends on it for correctness (expired reservations never match
// and are not listed); it keeps the table small for groups that are no
// longer asked for numbers.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for {
			n, err := s.Store.Sweep(ctx, s.Clock.Now(), 1000)
			if err != nil {
				if ctx.Err() == nil {
					slog.Warn("could not delete expired Click-To-Call-In reservations", "err", err)
				}
				break
			}
			if n < 1000 {
				break
			}
		}
	}
}
