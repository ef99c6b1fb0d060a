package gws

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Subject is whom a token was issued to: an OAuth client alone
// (client credentials) or a user signed in through that client
// (authorization code).
type Subject struct {
	Client string
	User   string // empty for client-credentials tokens
}

// Tokens holds the access tokens Auth issued, so the other GWS services can
// check them. Memory is enough: a restarted simulator makes GES fetch a new
// token, which is exactly what GES must cope with against a real GWS.
type Tokens struct {
	mu     sync.Mutex
	issued map[string]grant
	now    func() time.Time
}

type grant struct {
	sub Subject
	exp time.Time
}

// NewTokens returns an empty token store.
func NewTokens() *Tokens {
	return &Tokens{issued: map[string]grant{}, now: time.Now}
}

// Issue creates a token valid for ttl that belongs to no one in particular.
func (t *Tokens) Issue(ttl time.Duration) string { return t.IssueFor(Subject{}, ttl) }

// IssueFor creates a token for sub valid for ttl.
func (t *Tokens) IssueFor(sub Subject, ttl time.Duration) string {
	tok := randomHex(24)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, g := range t.issued { // keep the map from growing under load tests
		if now.After(g.exp) {
			delete(t.issued, k)
		}
	}
	t.issued[tok] = grant{sub: sub, exp: now.Add(ttl)}
	return tok
}

// Valid reports whether tok was issued and has not expired.
func (t *Tokens) Valid(tok string) bool {
	_, ok := t.Lookup(tok)
	return ok
}

// Lookup returns whom a live token belongs to.
func (t *Tokens) Lookup(tok string) (Subject, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := t.issued[tok]
	if !ok || !t.now().Before(g.exp) {
		return Subject{}, false
	}
	return g.sub, true
}

// Revoke forgets a token.
func (t *Tokens) Revoke(tok string) {
	t.mu.Lock()
	delete(t.issued, tok)
	t.mu.Unlock()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
