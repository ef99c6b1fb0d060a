package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A go-redis line becomes one JSON line at WARN, its "redis: " prefix and
// newline gone.
func TestRedisLoggerWritesJSON(t *testing.T) {
	var buf bytes.Buffer
	l := Redis{Logger: New(&buf, "INFO", 2048, nil)}
	l.Printf(context.Background(), "redis: %s: connection pool: failed to dial after %d attempts: %v\n", "127.0.0.1:1", 5, "refused")
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("not one JSON line: %q (%v)", buf.String(), err)
	}
	if line["level"] != "WARN" || line["component"] != "go-redis" ||
		line["msg"] != "127.0.0.1:1: connection pool: failed to dial after 5 attempts: refused" {
		t.Errorf("line %v", line)
	}
	buf.Reset()
	Redis{Logger: New(&buf, "ERROR", 2048, nil)}.Printf(context.Background(), "redis: quiet")
	if buf.Len() != 0 {
		t.Errorf("a line below the level was written: %q", buf.String())
	}
}

// What the real client library reports goes through the adapter once it
// is installed: a dial to a closed port makes go-redis log.
func TestRouteRedisCatchesLibraryLines(t *testing.T) {
	var buf syncBuffer
	redis.SetLogger(Redis{Logger: New(&buf, "DEBUG", 2048, nil)})
	t.Cleanup(func() { redis.SetLogger(Redis{}) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Fatal("PING to a closed port answered")
	}
	out := strings.TrimSpace(buf.String())
	if out == "" {
		t.Fatal("go-redis logged nothing through the adapter")
	}
	for _, l := range strings.Split(out, "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil || line["component"] != "go-redis" || line["level"] != "WARN" {
			t.Errorf("not a JSON go-redis line: %q", l)
		}
	}
	if !strings.Contains(out, "failed to dial") {
		t.Errorf("no dial failure in %s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for go-redis' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
