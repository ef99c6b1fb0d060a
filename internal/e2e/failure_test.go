package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// A hand-off ORS never read is never doubled: while the entry is unread
// (ORS paused or down) the callback waits. Once ORS read it and did not
// answer (the ORS that took it died), it is handed off again with
// attempt+1 after the silent window, and completes with FAIL_QUEUEING
// after the last attempt.
func TestSilentORSResubmitsOnlyReadEntries(t *testing.T) {
	// The test watches the callback's timer in the due set; a monitor
	// claiming ahead (lookahead) would keep it in its lease set instead.
	s := testenv.NewStack(t, testenv.StackOptions{Env: map[string]string{
		"MONITOR_REPORT_TIMEOUT_SECONDS": "1", "MONITOR_MAX_ATTEMPTS": "2", "MONITOR_LOOKAHEAD_MS": "0"}})
	n := s.Nodes[0]
	create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550700",
		"desiredTime": wireTime(time.Now().Add(time.Hour))}) // caches the tenant: gessim is about to go
	s.Sim.Proc.Stop() // ORS (and GWS) gone; its consumer group stays
	id := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550701"})
	eventually(t, 10*time.Second, "the first hand-off", func() bool { return len(entriesFor(streamEntries(t, s), id)) == 1 })
	first := entriesFor(streamEntries(t, s), id)[0]
	// The monitor looks at the unanswered hand-off after the silent window
	// and decides to wait: its timer moves past that first look.
	rdb := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rdb.Close()
	due := "ges:{" + demoCCID(s) + "}:due"
	eventually(t, 10*time.Second, "a second look at the unread hand-off", func() bool {
		sc, err := rdb.ZScore(context.Background(), due, id).Result()
		return err == nil && int64(sc) > first.StreamMS+1900
	})
	if es := entriesFor(streamEntries(t, s), id); len(es) != 1 {
		t.Fatalf("resubmitted while the first entry was unread: %+v", es)
	}
	// A consumer of ORS' group reads the entries: while it holds them (no
	// acknowledgement) a session may be running, and nothing is resubmitted.
	voice := redis.NewClient(&redis.Options{Addr: s.Voice.Addr})
	defer voice.Close()
	ctx := context.Background()
	read := func() []string {
		res, err := voice.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "ors", Consumer: "dead", Streams: []string{"NewCallbackStream", ">"}, Count: 100, Block: -1}).Result()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		var ids []string
		for _, st := range res {
			for _, m := range st.Messages {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}
	held := read()
	mark := time.Now()
	eventually(t, 10*time.Second, "a look at the held hand-off", func() bool {
		sc, err := rdb.ZScore(ctx, due, id).Result()
		return err == nil && int64(sc) > mark.UnixMilli()+900
	})
	if es := entriesFor(streamEntries(t, s), id); len(es) != 1 {
		t.Fatalf("resubmitted while ORS held the first entry: %+v", es)
	}
	// It lets them go without a word (acknowledged, never reported).
	readAll := func() {
		ids := append(held, read()...)
		held = nil
		if len(ids) > 0 {
			if err := voice.XAck(ctx, "NewCallbackStream", "ors", ids...).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	readAll()
	eventually(t, 10*time.Second, "attempt 2", func() bool { return len(entriesFor(streamEntries(t, s), id)) == 2 })
	readAll()
	eventually(t, 10*time.Second, "FAIL_QUEUEING", func() bool {
		_, d := retrieve(t, n, demoKey, id)
		return d["callbackReason"] == "FAIL_QUEUEING"
	})
	es := entriesFor(streamEntries(t, s), id)
	if len(es) != 2 || es[0].Attempt != "1" || es[1].Attempt != "2" {
		t.Fatalf("entries: %+v", es)
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
