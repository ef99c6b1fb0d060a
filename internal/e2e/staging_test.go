package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// The monitor claims scheduled callbacks ahead of their due time
// (MONITOR_LOOKAHEAD_MS) and hands them off when it comes, never before.
// A callback cancelled while it waits in the monitor's stage is looked at
// again then and not dialled.
func TestStagedCallbacksAreLookedAtAgainWhenDue(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Env: map[string]string{"MONITOR_LOOKAHEAD_MS": "6000"}})
	n := s.Nodes[0]
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rdb.Close()
	lease := "ges:{" + demoCCID(s) + "}:lease"
	claimed := func(id string) bool { return rdb.ZScore(ctx, lease, id).Err() == nil }

	desired := time.Now().Add(9 * time.Second).Truncate(time.Second)
	book := func(phone string) string {
		return create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": phone, "desiredTime": wireTime(desired)})
	}
	kept, cancelled := book("+15550141"), book("+15550142")
	eventually(t, 8*time.Second, "both callbacks claimed ahead", func() bool { return claimed(kept) && claimed(cancelled) })
	if left := time.Until(desired); left < time.Second {
		t.Fatalf("claimed only %s before the due time", left)
	}
	if st := state(t, n, kept); st != "SCHEDULED" {
		t.Fatalf("a callback claimed ahead is %s before its time, want SCHEDULED", st)
	}
	if code, _ := n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]string{"id": cancelled}); code != 200 {
		t.Fatalf("cancel: %d", code)
	}

	eventually(t, 20*time.Second, "the kept callback on the stream", func() bool { return len(entriesFor(streamEntries(t, s), kept)) > 0 })
	es := entriesFor(streamEntries(t, s), kept)
	if es[0].StreamMS < desired.UnixMilli() {
		t.Fatalf("handed off %d ms before its desired time", desired.UnixMilli()-es[0].StreamMS)
	}
	eventually(t, 10*time.Second, "the cancelled callback's claim ended", func() bool { return !claimed(cancelled) })
	if got := entriesFor(streamEntries(t, s), cancelled); len(got) != 0 {
		t.Fatalf("a callback cancelled while staged was handed off: %v", got)
	}
	// Not even an entry withdrawn again: the stream only ever had one.
	voice := redis.NewClient(&redis.Options{Addr: s.Voice.Addr})
	defer voice.Close()
	info, err := voice.XInfoStream(ctx, "NewCallbackStream").Result()
	if err != nil {
		t.Fatal(err)
	}
	if info.EntriesAdded != 1 {
		t.Fatalf("%d entries were ever added to the stream, want 1 (the kept callback's)", info.EntriesAdded)
	}
	if _, d := retrieve(t, n, demoKey, cancelled); d["callbackReason"] != "CANCELLED" {
		t.Fatalf("cancelled callback: %v", d)
	}
	eventually(t, 10*time.Second, "the kept callback queued", func() bool { return state(t, n, kept) != "SCHEDULED" })
}

// A node that stops while it holds callbacks claimed ahead gives them back
// to their timers; the next node hands them off on time, each once.
func TestStoppingNodeGivesStagedCallbacksBack(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: roomy(), Env: map[string]string{"MONITOR_LOOKAHEAD_MS": "6000"}})
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rdb.Close()
	lease, due := "ges:{"+demoCCID(s)+"}:lease", "ges:{"+demoCCID(s)+"}:due"

	desired := time.Now().Add(10 * time.Second).Truncate(time.Second)
	ids := bookMany(t, s, 40, desired)
	eventually(t, 9*time.Second, "all claimed ahead", func() bool {
		c, _ := rdb.ZCard(ctx, lease).Result()
		return c == int64(len(ids))
	})
	s.Nodes[0].Proc.Stop()
	if left := time.Until(desired); left <= 0 {
		t.Fatalf("the node stopped %s after the due time", -left)
	}
	if c, _ := rdb.ZCard(ctx, lease).Result(); c != 0 {
		t.Fatalf("%d callbacks still claimed by a stopped node", c)
	}
	for id := range ids {
		at, err := rdb.ZScore(ctx, due, id).Result()
		if err != nil || int64(at) != desired.UnixMilli() {
			t.Fatalf("callback %s given back with timer %v (%v), want %d", id, int64(at), err, desired.UnixMilli())
		}
	}
	if n := len(streamEntries(t, s)); n != 0 {
		t.Fatalf("%d entries on the stream before the due time", n)
	}
	s.RestartNode(t, 0)
	checkExactlyOnce(t, s, ids, 20*time.Second)
	for _, e := range streamEntries(t, s) {
		if e.StreamMS < desired.UnixMilli() {
			t.Fatalf("callback %s handed off %d ms early", e.CallbackID, desired.UnixMilli()-e.StreamMS)
		}
	}
}
