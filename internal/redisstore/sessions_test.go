package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/testenv"
)

// The UI's sessions: stored under the hash of their id with an idle
// timeout that a touch restarts and an update keeps.
func TestSessions(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{r.Addr}})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	s := redisstore.NewSessions(rdb)

	const id = "cookie-value"
	h := sha256.Sum256([]byte(id))
	key := "ges:ui:session:" + hex.EncodeToString(h[:])
	ttl := func() time.Duration {
		t.Helper()
		d, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	if _, found, err := s.Load(ctx, id, 0); err != nil || found {
		t.Fatalf("unknown session: found %v, %v", found, err)
	}
	if err := s.Update(ctx, id, []byte(`{}`)); !errors.Is(err, redisstore.ErrSessionGone) {
		t.Fatalf("update of an unknown session: %v", err)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
		t.Fatal("an update created a session")
	}

	if err := s.Save(ctx, id, []byte(`{"user":"a"}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if keys, _ := rdb.Keys(ctx, "*"+id+"*").Result(); len(keys) != 0 {
		t.Fatalf("the session id is stored as such: %v", keys)
	}
	if d := ttl(); d <= 0 || d > time.Minute {
		t.Fatalf("ttl %s after save", d)
	}

	// A read without touch leaves the timeout running; a touch restarts it.
	if err := rdb.PExpire(ctx, key, 10*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	b, found, err := s.Load(ctx, id, 0)
	if err != nil || !found || string(b) != `{"user":"a"}` {
		t.Fatalf("load: %q %v %v", b, found, err)
	}
	if d := ttl(); d > 10*time.Second {
		t.Fatalf("ttl %s after a read without touch", d)
	}
	if _, _, err := s.Load(ctx, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := ttl(); d <= 10*time.Second {
		t.Fatalf("ttl %s after a touch", d)
	}

	// An update keeps the remaining lifetime.
	if err := rdb.PExpire(ctx, key, 10*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, id, []byte(`{"user":"b"}`)); err != nil {
		t.Fatal(err)
	}
	if d := ttl(); d <= 0 || d > 10*time.Second {
		t.Fatalf("ttl %s after update", d)
	}
	if b, _, _ := s.Load(ctx, id, 0); string(b) != `{"user":"b"}` {
		t.Fatalf("after update: %q", b)
	}

	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Load(ctx, id, 0); err != nil || found {
		t.Fatalf("deleted session: found %v, %v", found, err)
	}
}
