package ors_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/sim/ors"
	"github.com/gesgo/ges/internal/sim/simtest"
)

func TestSessionReportsEveryStateInOrder(t *testing.T) {
	h := start(t, fastORS(), ors.Options{})
	id := h.add(t, "cb-1")

	rec := h.outcome(t, id)
	if rec.Outcome != "completed:AGENT_CONNECTED" {
		t.Fatalf("outcome = %q", rec.Outcome)
	}
	rs := h.ges.Reports()
	if got := states(rs); got != "QUEUED ROUTING PROCESSING COMPLETED/AGENT_CONNECTED" {
		t.Fatalf("states = %q", got)
	}
	for _, r := range rs {
		if r.ContactCenterID != testCCID || r.ContentType != "application/json" {
			t.Errorf("report headers: ContactCenterId=%q Content-Type=%q", r.ContactCenterID, r.ContentType)
		}
		if r.Path != "/genesys/1/service/callback/Callback_Sales/cb-1" {
			t.Errorf("report path %q", r.Path)
		}
	}
	first := rs[0].Body
	if first["_ors_session_id"] != rec.SessionID || len(rec.SessionID) != 32 {
		t.Errorf("session id %q reported, %q recorded", first["_ors_session_id"], rec.SessionID)
	}
	if first["_position"] != "1" || first["_ewt"] != "1" {
		t.Errorf("position/ewt = %q/%q", first["_position"], first["_ewt"])
	}
	if rec.CCID != testCCID || rec.CallbackID != "cb-1" || rec.Attempt != "1" || rec.ServiceName != "Callback_Sales" {
		t.Errorf("record = %+v", rec)
	}
	waitFor(t, "XACK", func() bool { return h.pending(t) == 0 })
	if st := h.svc.Ledger().Stats(); st != (ors.Stats{Consumed: 1, Completed: 1}) {
		t.Errorf("stats = %+v", st)
	}
}

func TestRefusedReportAbortsSession(t *testing.T) {
	h := start(t, fastORS(), ors.Options{})
	h.ges.Answer(func(r simtest.Report) int {
		if r.Body["_callback_state"] == ors.StateRouting {
			return http.StatusBadRequest // e.g. cancelled meanwhile
		}
		return http.StatusOK
	})
	id := h.add(t, "cb-2")
	if rec := h.outcome(t, id); rec.Outcome != "aborted:400" {
		t.Fatalf("outcome = %q", rec.Outcome)
	}
	if got := states(h.ges.Reports()); got != "QUEUED ROUTING" {
		t.Fatalf("states = %q", got)
	}
	waitFor(t, "XACK", func() bool { return h.pending(t) == 0 })
}

func TestFailureRateOneReportsFailureReason(t *testing.T) {
	cfg := fastORS()
	cfg.FailureRate, cfg.FailureReason = 1, "FAIL_CALL_TO_CUSTOMER"
	h := start(t, cfg, ors.Options{})
	id := h.add(t, "cb-3")
	if rec := h.outcome(t, id); rec.Outcome != "completed:FAIL_CALL_TO_CUSTOMER" {
		t.Fatalf("outcome = %q", rec.Outcome)
	}
	if got := states(h.ges.Reports()); got != "QUEUED ROUTING COMPLETED/FAIL_CALL_TO_CUSTOMER" {
		t.Fatalf("states = %q", got)
	}
}

func TestTerminateStopsSession(t *testing.T) {
	cfg := fastORS()
	cfg.QueuedMs = 60_000
	h := start(t, cfg, ors.Options{})
	id := h.add(t, "cb-4")
	sid := h.ges.WaitReports(t, 1, 10*time.Second)[0].Body["_ors_session_id"]

	code, body := post(t, h.api.URL+"/scxml/session/"+sid+"/request/check-queue-position")
	var pos map[string]string
	if code != http.StatusOK || json.Unmarshal([]byte(body), &pos) != nil || pos["_position"] != "1" || pos["ewt"] != "60" {
		t.Fatalf("check-queue-position = %d %s", code, body)
	}
	// The session takes its state just after the report is answered.
	var q map[string]any
	var status int
	waitFor(t, "the session in QUEUED", func() bool {
		resp, err := get(h.api.URL + "/scxml/session/" + sid + "/query")
		if err != nil {
			t.Fatal(err)
		}
		q = nil
		_ = json.NewDecoder(resp.Body).Decode(&q)
		resp.Body.Close()
		status = resp.StatusCode
		return status == http.StatusOK && q["state"] == "QUEUED"
	})
	if q["callbackId"] != "cb-4" {
		t.Fatalf("query = %d %v", status, q)
	}

	if code, _ := post(t, h.api.URL+"/scxml/session/"+sid+"/terminate"); code != http.StatusOK {
		t.Fatalf("terminate = %d", code)
	}
	if rec := h.outcome(t, id); rec.Outcome != ors.OutcomeTerminated {
		t.Fatalf("outcome = %q", rec.Outcome)
	}
	waitFor(t, "XACK", func() bool { return h.pending(t) == 0 })
	if got := states(h.ges.Reports()); got != "QUEUED" {
		t.Fatalf("states after terminate = %q", got)
	}
	if code, body := post(t, h.api.URL+"/scxml/session/"+sid+"/terminate"); code != http.StatusNotFound || body != "{\"error\":\"404 Not Found\"}\n" {
		t.Fatalf("second terminate = %d %s", code, body)
	}
}

func TestUnknownSessionIs404(t *testing.T) {
	h := start(t, fastORS(), ors.Options{})
	for _, path := range []string{"/terminate", "/request/check-queue-position"} {
		if code, _ := post(t, h.api.URL+"/scxml/session/NOPE"+path); code != http.StatusNotFound {
			t.Errorf("%s = %d", path, code)
		}
	}
	resp, err := get(h.api.URL + "/scxml/session/NOPE/query")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("query = %d", resp.StatusCode)
	}
}

func TestPositionCountsLiveSessionsOfTheService(t *testing.T) {
	cfg := fastORS()
	cfg.QueuedMs = 60_000
	h := start(t, cfg, ors.Options{})
	for i := range 3 {
		h.add(t, "cb-pos-"+strconv.Itoa(i))
	}
	rs := h.ges.WaitReports(t, 3, 10*time.Second)
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.Body["_position"]] = true
	}
	if !seen["1"] || !seen["2"] || !seen["3"] {
		t.Fatalf("positions = %v", seen)
	}
}

func TestUnreachableGESAbortsAfterRetries(t *testing.T) {
	h := start(t, fastORS(), ors.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	id := simtest.XAddCallback(t, h.rdb, simtest.Callback{CCID: testCCID, CallbackID: "cb-5",
		ServiceName: "Callback_Sales", UpdateURL: dead + "/genesys/1/service/callback/Callback_Sales/cb-5"})
	if rec := h.outcome(t, id); rec.Outcome != "aborted:network" {
		t.Fatalf("outcome = %q", rec.Outcome)
	}
}

func TestInvalidEntryIsRecordedAndAcked(t *testing.T) {
	h := start(t, fastORS(), ors.Options{})
	id, err := h.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: h.cfg.StreamName,
		Values: []string{"type", "callback.start", "ccid", testCCID, "payload", "{"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	if rec := h.outcome(t, id); rec.Outcome != "aborted:invalid" {
		t.Fatalf("outcome = %q", rec.Outcome)
	}
	waitFor(t, "XACK", func() bool { return h.pending(t) == 0 })
}
