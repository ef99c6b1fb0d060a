package gws

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Tokens holds the access tokens Auth issued, so Environment can check them.
// Memory is enough: a restarted simulator makes GES fetch a new token, which
// is exactly what GES must cope with against a real GWS.
type Tokens struct {
	mu     sync.Mutex
	issued map[string]time.Time // token -> expiry
	now    func() time.Time
}

// NewTokens returns an empty token store.
func NewTokens() *Tokens {
	return &Tokens{issued: map[string]time.Time{}, now: time.Now}
}

// Issue creates a token valid for ttl.
func (t *Tokens) Issue(ttl time.Duration) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, exp := range t.issued { // keep the map from growing under load tests
		if now.After(exp) {
			delete(t.issued, k)
		}
	}
	t.issued[tok] = now.Add(ttl)
	return tok
}

// Valid reports whether tok was issued and has not expired.
func (t *Tokens) Valid(tok string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.issued[tok]
	return ok && t.now().Before(exp)
}
