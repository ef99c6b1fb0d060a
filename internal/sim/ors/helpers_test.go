package ors_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/ors"
	"github.com/gesgo/ges/internal/sim/simtest"
)

const testCCID = "9e0c6b1e-2f3a-4b5c-8d7e-1f2a3b4c5d6e"

type harness struct {
	rdb *redis.Client
	svc *ors.Service
	ges *simtest.FakeGES
	api *httptest.Server
	cfg fixture.ORS
}

func fastORS() fixture.ORS {
	cfg := fixture.DefaultORS()
	cfg.QueuedMs, cfg.RoutingMs, cfg.ProcessingMs = 20, 20, 20
	return cfg
}

// start runs a simulated ORS against a private Redis and a fake GES.
func start(t *testing.T, cfg fixture.ORS, opts ors.Options) *harness {
	t.Helper()
	h := prepare(t, cfg)
	h.svc = h.run(t, opts)
	return h
}

// prepare sets up Redis, the fake GES and the ORS API server, without a
// consumer yet, so a test can arrange the stream first.
func prepare(t *testing.T, cfg fixture.ORS) *harness {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: simtest.StartRedis(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	h := &harness{rdb: rdb, ges: simtest.NewFakeGES(t), cfg: cfg}
	h.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.svc.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(h.api.Close)
	return h
}

// run starts one more consumer on the harness' Redis.
func (h *harness) run(t *testing.T, opts ors.Options) *ors.Service {
	t.Helper()
	if opts.Consumer == "" {
		opts.Consumer = "sim-test"
	}
	opts.Block = 100 * time.Millisecond
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc := ors.New(h.rdb, h.cfg, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "consumer ready", svc.Ready)
	return svc
}

func (h *harness) add(t *testing.T, callbackID string) string {
	return simtest.XAddCallback(t, h.rdb, simtest.Callback{
		Stream: h.cfg.StreamName, CCID: testCCID, CallbackID: callbackID, ServiceName: "Callback_Sales",
		UpdateURL: h.ges.URL + "/genesys/1/service/callback/Callback_Sales/" + callbackID,
	})
}

// outcome waits until the entry's session ends and returns its record.
func (h *harness) outcome(t *testing.T, streamID string) ors.Record {
	t.Helper()
	var rec ors.Record
	waitFor(t, "session of "+streamID+" to end", func() bool {
		for _, r := range h.svc.Ledger().Records(0) {
			if r.StreamID == streamID && r.Outcome != ors.OutcomeRunning {
				rec = r
				return true
			}
		}
		return false
	})
	return rec
}

func (h *harness) pending(t *testing.T) int64 {
	t.Helper()
	p, err := h.rdb.XPending(context.Background(), h.cfg.StreamName, h.cfg.ConsumerGroup).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func states(rs []simtest.Report) string {
	var out []string
	for _, r := range rs {
		s := r.Body["_callback_state"]
		if reason := r.Body["_callback_reason"]; reason != "" {
			s += "/" + reason
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httptestClient.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, readAll(resp)
}
