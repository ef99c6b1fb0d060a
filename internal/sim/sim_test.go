package sim_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/sim"
	"github.com/gesgo/ges/internal/sim/designer"
	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/ors"
	"github.com/gesgo/ges/internal/sim/simtest"
)

var client = &http.Client{Timeout: 5 * time.Second}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, raw)
	}
	return resp.StatusCode
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSimulatorEndToEnd(t *testing.T) {
	fx, err := fixture.Parse([]byte(simtest.DemoFixture))
	if err != nil {
		t.Fatal(err)
	}
	redisAddr := simtest.StartRedis(t)
	ges := simtest.NewFakeGES(t)
	s, err := sim.Start(sim.Config{
		Fixture: fx, VoiceRedis: redisAddr,
		AuthAddr: "127.0.0.1:0", EnvAddr: "127.0.0.1:0", ORSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		PublishTo: ges.URL, PublishRetry: designer.Retry{Every: 20 * time.Millisecond, For: 5 * time.Second},
		ORS:    ors.Options{Block: 100 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	admin := "http://" + s.Addrs().Admin
	waitFor(t, "health", func() bool {
		var h map[string]any
		return getJSON(t, admin+"/sim/health", &h) == http.StatusOK && h["status"] == "UP"
	})
	waitFor(t, "start-up publish", func() bool { return len(ges.Tables()) == 1 })
	// Optional services left out have no admin endpoints either.
	for _, path := range []string{"/sim/urs/calls", "/sim/stats/calls", "/sim/config/scripts", "/sim/fcm/messages", "/sim/captcha/calls"} {
		resp, err := client.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s without its service: %d", path, resp.StatusCode)
		}
	}
	if tb := ges.Tables()[0]; tb.ContactCenterID != simtest.DemoCCID || tb.Body["table"] != "CALLBACK_SETTINGS" {
		t.Fatalf("published %+v", tb)
	}

	resp, err := client.Post(admin+"/sim/ors/config", "application/json", strings.NewReader(`{"failureRate":1,"failureReason":"FAIL_ERROR"}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("config: %v %v", resp, err)
	}
	resp.Body.Close()
	var cfg fixture.ORS
	if getJSON(t, admin+"/sim/ors/config", &cfg); cfg.FailureRate != 1 || cfg.QueuedMs != 20 {
		t.Fatalf("config = %+v", cfg)
	}

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	id := simtest.XAddCallback(t, rdb, simtest.Callback{CCID: simtest.DemoCCID, CallbackID: "cb-e2e",
		ServiceName: "Callback_Sales", UpdateURL: ges.URL + "/genesys/1/service/callback/Callback_Sales/cb-e2e"})
	var entries []ors.Record
	waitFor(t, "session end", func() bool {
		getJSON(t, admin+"/sim/ors/entries", &entries)
		return len(entries) == 1 && entries[0].Outcome != ors.OutcomeRunning
	})
	if e := entries[0]; e.StreamID != id || e.Outcome != "completed:FAIL_ERROR" || e.CallbackID != "cb-e2e" {
		t.Fatalf("entry = %+v", e)
	}
	var stats ors.Stats
	if getJSON(t, admin+"/sim/ors/stats", &stats); stats != (ors.Stats{Consumed: 1, Completed: 1}) {
		t.Fatalf("stats = %+v", stats)
	}
}
