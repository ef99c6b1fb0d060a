// Package credentials keeps the secrets tenants store in GES (GWS client
// credentials for statistics, the FCM service account for push, the
// CAPTCHA secret), sealed with AES-256-GCM before they reach Postgres, so
// a database dump does not reveal them.
package credentials

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gesgo/ges/internal/clock"
)

// Kinds of credentials.
const (
	GWS     = "gws"     // {"clientId","clientSecret"} for GWS Statistics
	FCM     = "fcm"     // a Google service-account JSON key
	Captcha = "captcha" // {"enabled": bool, "secret": "..."}
)

// ErrNotFound is returned when a tenant stored no credentials of a kind.
var ErrNotFound = errors.New("credentials not configured")

// ErrNoKey is returned when GES has no key to seal credentials with.
var ErrNoKey = errors.New("no credentials key is configured")

// Store reads and writes sealed credentials.
type Store struct {
	pool *pgxpool.Pool
	aead cipher.AEAD
	// Clock dates the stored credentials (nil: clock.System).
	Clock clock.Clock
}

// New returns a store sealing with a key derived from secret (SHA-256), or
// a store that refuses every call when secret is empty.
func New(pool *pgxpool.Pool, secret string) (*Store, error) {
	s := &Store{pool: pool}
	if secret == "" {
		return s, nil
	}
	k := sha256.Sum256([]byte("ges-credentials\x00" + secret))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) now() time.Time {
	if s.Clock == nil {
		return clock.System{}.Now()
	}
	return s.Clock.Now()
}

func aad(tenant, kind string) []byte { return []byte(tenant + "\x00" + kind) }

// Put stores value for the tenant, replacing what was there.
func (s *Store) Put(ctx context.Context, tenant, kind string, value []byte) error {
	if s.aead == nil {
		return ErrNoKey
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := s.aead.Seal(nonce, nonce, value, aad(tenant, kind))
	_, err := s.pool.Exec(ctx, `INSERT INTO tenant_credentials (ccid, kind, sealed, updated_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT (ccid, kind) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = EXCLUDED.updated_at`,
		tenant, kind, sealed, s.now().UTC())
	return err
}

// Get returns the tenant's value, and when it was stored.
func (s *Store) Get(ctx context.Context, tenant, kind string) ([]byte, time.Time, error) {
	if s.aead == nil {
		return nil, time.Time{}, ErrNoKey
	}
	var sealed []byte
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT sealed, updated_at FROM tenant_credentials WHERE ccid=$1 AND kind=$2`, tenant, kind).Scan(&sealed, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, ErrNotFound
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, time.Time{}, errors.New("stored credentials are corrupt")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad(tenant, kind))
	if err != nil {
		return nil, time.Time{}, errors.New("stored credentials cannot be opened with the configured key")
	}
	return plain, at, nil
}

// Delete removes the tenant's value.
func (s *Store) Delete(ctx context.Context, tenant, kind string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM tenant_credentials WHERE ccid=$1 AND kind=$2`, tenant, kind)
	return err
}
