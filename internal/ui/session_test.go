package ui

import (
	"context"
	"errors"
	"testing"
	"time"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// memSessions is a SessionStore in memory that remembers the expiry each
// call asked for.
type memSessions struct {
	bodies  map[string][]byte
	touched []time.Duration
	saved   time.Duration
}

func (m *memSessions) Save(_ context.Context, id string, body []byte, ttl time.Duration) error {
	m.bodies[id], m.saved = body, ttl
	return nil
}

func (m *memSessions) Load(_ context.Context, id string, touch time.Duration) ([]byte, bool, error) {
	m.touched = append(m.touched, touch)
	b, ok := m.bodies[id]
	return b, ok, nil
}

func (m *memSessions) Update(_ context.Context, id string, body []byte) error {
	if _, ok := m.bodies[id]; !ok {
		return errors.New("gone")
	}
	m.bodies[id] = body
	return nil
}

func (m *memSessions) Delete(_ context.Context, id string) error {
	delete(m.bodies, id)
	return nil
}

func TestSessionsRoundTrip(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	store := &memSessions{bodies: map[string][]byte{}}
	s := &sessions{store: store, clock: fixedClock(at), timeout: 20 * time.Minute}

	sess := &Session{User: "u1", Tenant: "t1", Roles: []Role{RoleAdmin}}
	if err := s.create(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if sess.id == "" || sess.CSRF == "" || sess.id == sess.CSRF || !sess.Created.Equal(at) || store.saved != 20*time.Minute {
		t.Fatalf("created %+v, saved for %s", sess, store.saved)
	}

	got, err := s.load(ctx, sess.id, true)
	if err != nil || got.User != "u1" || got.id != sess.id || got.CSRF != sess.CSRF {
		t.Fatalf("load: %+v %v", got, err)
	}
	if _, err := s.load(ctx, sess.id, false); err != nil {
		t.Fatal(err)
	}
	if len(store.touched) != 2 || store.touched[0] != 20*time.Minute || store.touched[1] != 0 {
		t.Fatalf("touches %v: a poll must not keep the session alive", store.touched)
	}

	got.Flash = "saved"
	if err := s.update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.load(ctx, sess.id, false); again.Flash != "saved" {
		t.Fatalf("after update: %+v", again)
	}

	store.bodies["broken"] = []byte("{")
	for _, id := range []string{"", "unknown", "broken"} {
		if _, err := s.load(ctx, id, true); !errors.Is(err, errNoSession) {
			t.Errorf("load %q: %v", id, err)
		}
	}
	if err := s.delete(ctx, sess.id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.load(ctx, sess.id, false); !errors.Is(err, errNoSession) {
		t.Fatalf("deleted session: %v", err)
	}
}
