package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// TestPausedServiceHoldsAndResumesInOrder: while a service is paused its
// due callbacks, scheduled and immediate, are not handed to ORS and show
// PAUSED; other services go on; creates are accepted. A pause outlives
// the loss of Redis. On resume the held callbacks reach the stream in due
// order, each once.
func TestPausedServiceHoldsAndResumesInOrder(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 600000
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	gms := gmsAs(t, n, demoCCID(s))
	createAt := func(svc, phone string, at time.Time) string {
		t.Helper()
		body := map[string]string{"_customer_number": phone}
		if !at.IsZero() {
			body["_desired_time"] = wireTime(at)
		}
		code, b := gms("POST", "/genesys/1/service/callback/"+svc, body)
		var created map[string]string
		decode(t, []byte(b), &created)
		if code != 200 || created["_id"] == "" {
			t.Fatalf("create in %s: %d %s", svc, code, b)
		}
		return created["_id"]
	}
	shown := func(id string) string {
		t.Helper()
		code, b := gms("GET", "/genesys/1/service/callback/Callback_Sales/"+id, nil)
		if code != 200 {
			t.Fatalf("get %s: %d %s", id, code, b)
		}
		var rec map[string]any
		decode(t, []byte(b), &rec)
		st, _ := rec["_callback_state"].(string)
		return st
	}
	code, b := gms("PUT", "/ges/v1/services/Callback_Nope/pause", nil)
	if code != 404 {
		t.Fatalf("pause of an unknown service: %d %s", code, b)
	}
	if code, b := n.Internal(t, "PUT", "/ges/v1/services/Callback_Sales/pause", "", nil); code != 400 {
		t.Fatalf("pause naming no contact center: %d %s", code, b)
	}
	code, b = gms("PUT", "/ges/v1/services/Callback_Sales/pause", nil)
	if code != 200 || !strings.Contains(b, `"paused":true`) {
		t.Fatalf("pause: %d %s", code, b)
	}
	base := time.Now().Add(3 * time.Second)
	// Created out of due order, so the stream order proves the due order.
	late := createAt("Callback_Sales", "+15550902", base.Add(800*time.Millisecond))
	early := createAt("Callback_Sales", "+15550901", base)
	mid := createAt("Callback_Sales", "+15550903", base.Add(400*time.Millisecond))
	imm := createAt("Callback_Sales", "+15550900", time.Time{}) // immediate: due first
	other := createAt("Callback_Support", "+15550904", base.Add(time.Second))
	eventually(t, 30*time.Second, "the other service's callback handed off", func() bool {
		return len(entriesFor(streamEntries(t, s), other)) == 1
	})
	held := []string{imm, early, mid, late}
	eventually(t, 30*time.Second, "the paused service's callbacks shown PAUSED", func() bool {
		for _, id := range held {
			if shown(id) != "PAUSED" {
				return false
			}
		}
		return true
	})
	// Lists come from Postgres and show the hold too.
	code, b = gms("GET", "/genesys/1/service/callback/Callback_Sales?_customer_number=%2B15550901", nil)
	var listed []map[string]any
	decode(t, []byte(b), &listed)
	if code != 200 || len(listed) != 1 || listed[0]["_id"] != early || listed[0]["_callback_state"] != "PAUSED" {
		t.Fatalf("query of a held callback: %d %s", code, b)
	}
	es := streamEntries(t, s)
	for _, id := range held {
		if len(entriesFor(es, id)) != 0 {
			t.Fatalf("callback %s of a paused service was handed off", id)
		}
	}
	if code, b = gms("GET", "/ges/v1/services/paused", nil); code != 200 || !strings.Contains(b, `"service":"Callback_Sales"`) || !strings.Contains(b, `"held":4`) {
		t.Fatalf("list: %d %s", code, b)
	}
	// Redis lost: the pause is Postgres' and comes back with the restore.
	rdb := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rdb.Close()
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the held callbacks held again after the restore", func() bool {
		code, b := gms("GET", "/ges/v1/services/paused", nil)
		return code == 200 && strings.Contains(b, `"held":4`)
	})
	for _, id := range held {
		if len(entriesFor(streamEntries(t, s), id)) != 0 {
			t.Fatalf("callback %s of a paused service was handed off after the restore", id)
		}
	}
	code, b = gms("DELETE", "/ges/v1/services/Callback_Sales/pause", nil)
	if code != 200 || !strings.Contains(b, `"resumed":4`) {
		t.Fatalf("resume: %d %s", code, b)
	}
	eventually(t, 30*time.Second, "the held callbacks handed off", func() bool {
		es := streamEntries(t, s)
		for _, id := range held {
			if len(entriesFor(es, id)) == 0 {
				return false
			}
		}
		return true
	})
	var order []string
	for _, e := range streamEntries(t, s) {
		if slices.Contains(held, e.CallbackID) {
			order = append(order, e.CallbackID)
		}
	}
	if !slices.Equal(order, held) {
		t.Fatalf("stream order %v, want due order %v (each once)", order, held)
	}
	if code, b = gms("GET", "/ges/v1/services/paused", nil); code != 200 || strings.Contains(b, "Callback_Sales") {
		t.Fatalf("list after the resume: %d %s", code, b)
	}
}
