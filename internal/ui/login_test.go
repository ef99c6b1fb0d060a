package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Login tokens are GES's own: made-up, altered, expired or foreign ones
// are refused, and the OAuth state is bound to the token.
func TestLoginTokens(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	k := newLoginKeys([]byte("deployment secret"))
	tok := k.issue(now.Add(loginTTL))
	if !k.valid(tok, now) || !k.valid(tok, now.Add(loginTTL-time.Second)) {
		t.Fatal("a fresh token is not valid")
	}
	if k.valid(tok, now.Add(loginTTL)) {
		t.Fatal("an expired token is valid")
	}
	if k.issue(now) == tok {
		t.Fatal("two tokens are equal")
	}
	other := newLoginKeys([]byte("another deployment"))
	altered := []byte(tok)
	altered[3] ^= 1
	for name, v := range map[string]string{
		"made up":      strings.Repeat("A", len(tok)),
		"long made up": strings.Repeat("x", 64),
		"empty":        "",
		"altered":      string(altered),
		"other key":    other.issue(now.Add(loginTTL)),
	} {
		if k.valid(v, now) {
			t.Errorf("%s token %q is valid", name, v)
		}
	}
	if !newLoginKeys([]byte("deployment secret")).valid(tok, now) {
		t.Fatal("another node with the same secret refuses the token")
	}
	st := k.state(tok)
	if st == tok || st == k.state(k.issue(now.Add(loginTTL))) || st != k.state(tok) || other.state(tok) == st {
		t.Fatal("the state is not a stable function of the token and the key")
	}
}

// A session ends at its absolute lifetime however active, and its record
// never outlives it.
func TestSessionLifetime(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	store := &memSessions{bodies: map[string][]byte{}}
	clk := &movingClock{t: at}
	s := &sessions{store: store, clock: clk, timeout: 20 * time.Minute, lifetime: time.Hour}
	sess := &Session{User: "u1", Tenant: "t1"}
	if err := s.create(ctx, sess); err != nil {
		t.Fatal(err)
	}
	for range 5 { // active every 10 minutes: the idle timeout never ends it
		clk.t = clk.t.Add(10 * time.Minute)
		if _, err := s.load(ctx, sess.id, true); err != nil {
			t.Fatalf("at %s: %v", clk.t.Sub(at), err)
		}
	}
	clk.t = at.Add(50 * time.Minute)
	got, _ := s.load(ctx, sess.id, true)
	if err := s.save(ctx, got); err != nil || store.saved != 10*time.Minute {
		t.Fatalf("saved for %s near the end of the lifetime, want 10m (%v)", store.saved, err)
	}
	clk.t = at.Add(time.Hour)
	if _, err := s.load(ctx, sess.id, true); !errors.Is(err, errSessionOver) || !errors.Is(err, errNoSession) {
		t.Fatalf("at the lifetime: %v", err)
	}
	if _, ok := store.bodies[sess.id]; ok {
		t.Fatal("the ended session was not deleted")
	}
}

type movingClock struct{ t time.Time }

func (c *movingClock) Now() time.Time { return c.t }
