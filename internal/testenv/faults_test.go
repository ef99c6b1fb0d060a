package testenv

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestBalancerSkipsRefusingBackends(t *testing.T) {
	t.Parallel()
	serve := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			_, _ = io.WriteString(w, name+":"+r.URL.Path+":"+string(b))
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := serve("a"), serve("b")
	// A port nobody listens on: its connections are refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	_ = l.Close()

	lb := StartBalancer(t)
	for _, u := range []string{a.URL, dead, b.URL} {
		lb.Add(u)
	}
	seen := map[string]int{}
	for i := range 6 {
		r, err := Do("PUT", lb.URL+"/genesys/x", nil, "body"+strconv.Itoa(i))
		if err != nil || r.Status != 200 {
			t.Fatalf("request %d: %v %+v", i, err, r)
		}
		if want := ":/genesys/x:body" + strconv.Itoa(i); string(r.Body[1:]) != want {
			t.Fatalf("request %d answered %q", i, r.Body)
		}
		seen[string(r.Body[:1])]++
	}
	if seen["a"] == 0 || seen["b"] == 0 || seen["a"]+seen["b"] != 6 {
		t.Fatalf("spread over the live backends: %v", seen)
	}

	// With no backend left the client sees a broken connection, never an
	// HTTP answer it would take as the service's decision.
	a.Close()
	b.Close()
	if r, err := Do("GET", lb.URL+"/x", nil, nil); err == nil {
		t.Fatalf("no live backend answered %+v", r)
	}
}

func TestRedisRestartsFromItsSnapshot(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	if err := c.Set(ctx, "k", "old", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Snapshot(); err != nil {
		t.Fatal(err)
	}
	_ = c.Set(ctx, "k", "new", 0).Err()
	_ = c.Set(ctx, "later", "x", 0).Err()
	r.Kill()
	r.Restart()
	if v, _ := c.Get(ctx, "k").Result(); v != "old" {
		t.Fatalf("k = %q after the restart, want the snapshot's value", v)
	}
	if n, _ := c.Exists(ctx, "later").Result(); n != 0 {
		t.Fatal("a key written after the snapshot survived")
	}
}

func TestAppendOnlyRedisKeepsDataAcrossStop(t *testing.T) {
	t.Parallel()
	r := StartRedisWith(t, RedisOptions{AppendOnly: true})
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	if err := c.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: []string{"f", "v"}}).Err(); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	r.Restart()
	if n, err := c.XLen(ctx, "s").Result(); err != nil || n != 1 {
		t.Fatalf("stream after the restart: %d %v", n, err)
	}
}
