package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sessions keeps the UI's sessions as opaque bodies with an idle timeout,
// shared by every node.
type Sessions struct{ rdb redis.UniversalClient }

// NewSessions returns the session store on rdb.
func NewSessions(rdb redis.UniversalClient) *Sessions { return &Sessions{rdb: rdb} }

// ErrSessionGone is returned by Update when the session expired or was
// deleted meanwhile.
var ErrSessionGone = errors.New("the session is gone")

func sessionKeyOf(id string) string {
	h := sha256.Sum256([]byte(id))
	return sessionKey(hex.EncodeToString(h[:]))
}

// Save stores a session's body, expiring after ttl.
func (s *Sessions) Save(ctx context.Context, id string, body []byte, ttl time.Duration) error {
	return s.rdb.Set(ctx, sessionKeyOf(id), body, ttl).Err()
}

// Load returns a session's body and whether it exists. A touch above zero
// restarts its expiry at that much (the sliding idle timeout); zero reads
// it without keeping it alive.
func (s *Sessions) Load(ctx context.Context, id string, touch time.Duration) ([]byte, bool, error) {
	var b []byte
	var err error
	if touch > 0 {
		b, err = s.rdb.GetEx(ctx, sessionKeyOf(id), touch).Bytes()
	} else {
		b, err = s.rdb.Get(ctx, sessionKeyOf(id)).Bytes()
	}
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Update replaces the body of an existing session and keeps its remaining
// lifetime; a session that expired meanwhile stays gone.
func (s *Sessions) Update(ctx context.Context, id string, body []byte) error {
	err := s.rdb.SetArgs(ctx, sessionKeyOf(id), body, redis.SetArgs{KeepTTL: true, Mode: "XX"}).Err()
	if errors.Is(err, redis.Nil) {
		return ErrSessionGone
	}
	return err
}

// Delete removes a session.
func (s *Sessions) Delete(ctx context.Context, id string) error {
	return s.rdb.Del(ctx, sessionKeyOf(id)).Err()
}
