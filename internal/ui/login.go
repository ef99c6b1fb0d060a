package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// loginKeys sign the sign-in cookie and derive the OAuth state from it.
// Every node derives the same key from the deployment's secrets, so a
// sign-in may start on one node and come back to another; nothing is
// stored per sign-in, so unauthenticated visitors cannot fill a store.
type loginKeys struct{ key []byte }

func newLoginKeys(secret []byte) loginKeys {
	if len(secret) == 0 {
		// No secret configured: a key of this process only (a sign-in
		// then has to come back to the node it started on).
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("ges-ui-login-v1"))
	return loginKeys{key: m.Sum(nil)}
}

// A login token is 16 random bytes and its expiry (Unix seconds), followed
// by a MAC of both: GES issued it, and only until then.
const (
	loginNonceLen = 16
	loginMACLen   = 16
)

func (k loginKeys) mac(purpose string, b []byte) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(b)
	return m.Sum(nil)
}

// issue returns a new login token valid until exp.
func (k loginKeys) issue(exp time.Time) string {
	b := make([]byte, loginNonceLen+8, loginNonceLen+8+loginMACLen)
	_, _ = rand.Read(b[:loginNonceLen])
	binary.BigEndian.PutUint64(b[loginNonceLen:], uint64(exp.Unix()))
	b = append(b, k.mac("login", b)[:loginMACLen]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// expiry returns the expiry of a token GES issued, and false for anything
// else: a token of another key, altered, or made up by a client.
func (k loginKeys) expiry(tok string) (time.Time, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != loginNonceLen+8+loginMACLen {
		return time.Time{}, false
	}
	body, sum := b[:loginNonceLen+8], b[loginNonceLen+8:]
	if !hmac.Equal(sum, k.mac("login", body)[:loginMACLen]) {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(body[loginNonceLen:])), 0), true
}

// valid tells whether tok is a token GES issued that has not expired.
func (k loginKeys) valid(tok string, now time.Time) bool {
	exp, ok := k.expiry(tok)
	return ok && now.Before(exp)
}

// state is the OAuth state of a sign-in whose browser holds the login
// token tok: bound to it, and not the token itself (the state travels in
// URLs, the token only in an HttpOnly cookie).
func (k loginKeys) state(tok string) string {
	return base64.RawURLEncoding.EncodeToString(k.mac("oauth-state", []byte(tok))[:24])
}
