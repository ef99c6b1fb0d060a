package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gesgo/ges/internal/testenv"
)

// When ORS never answers, the callback is handed off again with attempt+1
// after the silent window, and completes with FAIL_QUEUEING after the last
// attempt.
func TestSilentORSResubmitsThenFails(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Env: map[string]string{
		"MONITOR_REPORT_TIMEOUT_SECONDS": "1", "MONITOR_MAX_ATTEMPTS": "2"}})
	n := s.Nodes[0]
	warm := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550700",
		"desiredTime": wireTime(time.Now().Add(time.Hour))}) // caches the tenant: gessim is about to go
	_ = warm
	s.Sim.Proc.Stop() // ORS (and GWS) gone
	id := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550701"})
	eventually(t, 10*time.Second, "FAIL_QUEUEING", func() bool {
		_, d := retrieve(t, n, demoKey, id)
		return d["callbackReason"] == "FAIL_QUEUEING"
	})
	es := entriesFor(streamEntries(t, s), id)
	if len(es) != 2 || es[0].Attempt != "1" || es[1].Attempt != "2" {
		t.Fatalf("entries: %+v", es)
	}
	if gap := es[1].StreamMS - es[0].StreamMS; gap < 950 {
		t.Fatalf("resubmitted %d ms after the first hand-off, before the silent window", gap)
	}
}

// With Postgres refusing connections a create fails at once with a 5xx in
// the envelope, and leaves nothing behind in Redis.
func TestCreateFailsFastWithoutPostgres(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, s.PG.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	cut := func(down bool) {
		allow := "true"
		if down {
			allow = "false"
		}
		if _, err := admin.Exec(ctx, `ALTER DATABASE "`+s.DBName+`" WITH ALLOW_CONNECTIONS `+allow); err != nil {
			t.Fatal(err)
		}
		if down {
			if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=$1`, s.DBName); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550899", "desiredTime": wireTime(time.Now().Add(time.Hour))}) // tenant settings read once
	cut(true)
	defer cut(false)
	body := map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550800", "desiredTime": wireTime(time.Now().Add(time.Hour))}
	for range 3 {
		start := time.Now()
		code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, body)
		took := time.Since(start)
		if code < 500 || resp["status"] == nil || !strings.Contains(resp["status"].(map[string]any)["message"].(string), "unavailable") {
			t.Fatalf("create without Postgres: %d %v", code, resp)
		}
		if took > 7*time.Second {
			t.Fatalf("create took %s without Postgres", took)
		}
	}
	if es := streamEntries(t, s); len(es) != 0 {
		t.Fatalf("refused creates reached the stream: %v", es)
	}
	cut(false)
	// The refused creates gave their per-number places back: two fit again.
	eventually(t, 10*time.Second, "Postgres back", func() bool {
		code, _ := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, body)
		return code == 200
	})
	create(t, n, demoKey, body)
}
