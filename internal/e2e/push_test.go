package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/testenv"
)

type fcmMessage struct {
	Token          string            `json:"token"`
	Project        string            `json:"project"`
	ServiceAccount string            `json:"serviceAccount"`
	Data           map[string]string `json:"data"`
}

func fcmMessages(t *testing.T, s *testenv.Stack) []fcmMessage {
	t.Helper()
	r, err := testenv.Do("GET", s.Sim.AdminURL+"/sim/fcm/messages", nil, nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("sim fcm messages: %v %+v", err, r)
	}
	var out []fcmMessage
	decode(t, r.Body, &out)
	return out
}

func messagesTo(ms []fcmMessage, token string) []fcmMessage {
	var out []fcmMessage
	for _, m := range ms {
		if m.Token == token {
			out = append(out, m)
		}
	}
	return out
}

// metricValue finds one sample of /metrics whose line starts with name and
// contains every label given as key="value".
func metricValue(text, name string, labels ...string) string {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			return line[strings.LastIndex(line, " ")+1:]
		}
	}
	return ""
}

func TestPushNotifications(t *testing.T) {
	const (
		email      = "ges-push@ges-demo.iam.gserviceaccount.com"
		pushSvc    = "Callback_Push"
		callInSvc  = "Callback_CallIn"
		dialNumber = "+18005550100"
	)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 3_600_000 // ORS reports QUEUED (ewt 3600 s and more) and then waits: the test reports itself
	fx.FCM.ServiceAccounts = []fixture.ServiceAccount{{ClientEmail: email,
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}}
	fx.URS.Queues[pushSvc] = fixture.URSQueue{EWT: 3600, Position: 1}
	demo := fx.ContactCenter("Demo")
	demo.SetSetting(pushSvc, "Push Notification Threshold (minutes)", "5")
	demo.SetSetting(callInSvc, "Callback Type", "USERORIGINATED")
	demo.SetSetting(callInSvc, "Push Notification Threshold (minutes)", "5")
	demo.SetSetting(callInSvc, "Display Number", dialNumber)
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx, Env: map[string]string{"PUSH_CHECK_SECONDS": "1"}})
	n := s.Nodes[0]
	cc := demoCCID(s)

	// FCM credentials: a service-account key whose token_uri is the simulator.
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa := map[string]string{
		"type": "service_account", "project_id": "ges-demo", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "100000000000000000001", "token_uri": s.Sim.FCMURL + "/token",
	}
	bad := map[string]string{"type": "service_account", "project_id": "ges-demo", "client_email": email}
	if code, b := n.Internal(t, "PUT", "/ges/v1/credentials/fcm", cc, bad); code != 400 || !strings.Contains(string(b), "private_key") {
		t.Fatalf("credentials without a key: %d %s", code, b)
	}
	if code, b := n.Internal(t, "PUT", "/ges/v1/credentials/fcm", cc, sa); code != 200 {
		t.Fatalf("store credentials: %d %s", code, b)
	}

	report := func(svc, id string, kv map[string]string) {
		t.Helper()
		if code, b := n.Internal(t, "PUT", "/genesys/1/service/callback/"+svc+"/"+id, cc, kv); code != 200 {
			t.Fatalf("report %v: %d %s", kv, code, b)
		}
	}
	record := func(svc, id string) map[string]string {
		t.Helper()
		code, b := n.Internal(t, "GET", "/genesys/1/service/callback/"+svc+"/"+id, cc, nil)
		if code != 200 {
			t.Fatalf("get %s: %d %s", id, code, b)
		}
		var m map[string]string
		decode(t, b, &m)
		return m
	}
	// queued creates a callback with one push target and waits for ORS'
	// QUEUED report.
	queued := func(svc, phone, token string) string {
		t.Helper()
		id := create(t, n, demoKey, map[string]any{"serviceName": svc, "phoneNumber": phone,
			"pushTargets": []map[string]string{{"channel": "FCM", "target": token}}})
		eventually(t, 15*time.Second, "ORS session of "+id, func() bool { return record(svc, id)["_ors_session_id"] != "" })
		return id
	}
	quiet := func(d time.Duration) { time.Sleep(d) } // long enough for a report look and two periodic checks

	// CALLBACK_UPCOMING once the reported wait falls below 5 minutes, once.
	id := queued(pushSvc, "+15550700", "device-A")
	report(pushSvc, id, map[string]string{"_ewt": "900", "_position": "4"})
	quiet(2500 * time.Millisecond)
	if ms := fcmMessages(t, s); len(ms) != 0 {
		t.Fatalf("sent above the threshold: %+v", ms)
	}
	report(pushSvc, id, map[string]string{"_ewt": "120", "_position": "2"})
	eventually(t, 15*time.Second, "CALLBACK_UPCOMING", func() bool { return len(fcmMessages(t, s)) > 0 })
	report(pushSvc, id, map[string]string{"_ewt": "60", "_position": "1"})
	report(pushSvc, id, map[string]string{"_ewt": "10"})
	report(pushSvc, id, map[string]string{"_callback_state": "ROUTING"})
	quiet(2500 * time.Millisecond)
	ms := fcmMessages(t, s)
	if len(ms) != 1 {
		t.Fatalf("messages = %+v, want exactly one", ms)
	}
	m := ms[0]
	want := map[string]string{"event": "CALLBACK_UPCOMING", "callbackId": id, "serviceName": pushSvc, "ewt": "120",
		"position": "2", "state": "QUEUED", "phoneNumber": "+15550700"}
	for k, v := range want {
		if m.Data[k] != v {
			t.Errorf("data[%s] = %q, want %q (%v)", k, m.Data[k], v, m.Data)
		}
	}
	if m.Token != "device-A" || m.Project != "ges-demo" || m.ServiceAccount != email {
		t.Fatalf("message %+v", m)
	}
	if rec := record(pushSvc, id); rec["_push_upcoming_sent"] == "" || rec["_callback_state"] != "ROUTING" {
		t.Fatalf("record %v", rec)
	}

	// USERORIGINATED: push targets are required; CALLBACK_CONNECT when ORS
	// routes the callback (the customer's turn to call in).
	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{"serviceName": callInSvc, "phoneNumber": "+15550701"})
	if code != 400 || !strings.Contains(resp["status"].(map[string]any)["message"].(string), "pushTargets") {
		t.Fatalf("USERORIGINATED without pushTargets: %d %v", code, resp)
	}
	in := queued(callInSvc, "+15550702", "device-B")
	report(callInSvc, in, map[string]string{"_ewt": "1200"})
	report(callInSvc, in, map[string]string{"_callback_state": "ROUTING", "_ewt": "0"})
	eventually(t, 15*time.Second, "CALLBACK_CONNECT", func() bool { return len(messagesTo(fcmMessages(t, s), "device-B")) > 0 })
	quiet(2500 * time.Millisecond)
	toB := messagesTo(fcmMessages(t, s), "device-B")
	if len(toB) != 1 || toB[0].Data["event"] != "CALLBACK_CONNECT" || toB[0].Data["callbackId"] != in ||
		toB[0].Data["dialNumber"] != dialNumber || toB[0].Data["serviceName"] != callInSvc || toB[0].Data["state"] != "ROUTING" {
		t.Fatalf("messages to device-B: %+v", toB)
	}

	// Without any ORS report of a lower wait, the periodic check sends once
	// URS estimates the queue below the threshold.
	bg := queued(pushSvc, "+15550703", "device-C")
	quiet(2500 * time.Millisecond)
	if got := messagesTo(fcmMessages(t, s), "device-C"); len(got) != 0 {
		t.Fatalf("sent while URS says 3600 s: %+v", got)
	}
	if r, err := testenv.Do("POST", s.Sim.AdminURL+"/sim/urs/config", nil,
		map[string]any{"queues": map[string]any{pushSvc: map[string]any{"ewt": 45, "position": 1}}}); err != nil || r.Status != 200 {
		t.Fatalf("urs config: %v %+v", err, r)
	}
	eventually(t, 20*time.Second, "CALLBACK_UPCOMING from the periodic check", func() bool { return len(messagesTo(fcmMessages(t, s), "device-C")) > 0 })
	quiet(2500 * time.Millisecond)
	if got := messagesTo(fcmMessages(t, s), "device-C"); len(got) != 1 || got[0].Data["callbackId"] != bg || got[0].Data["ewt"] != "45" {
		t.Fatalf("messages to device-C: %+v", got)
	}
	if got := messagesTo(fcmMessages(t, s), "device-A"); len(got) != 1 {
		t.Fatalf("device-A got %d messages", len(got))
	}

	text := metricsText(t, n)
	if v := metricValue(text, "ges_push_notifications_sent", `tenant="`+cc+`"`, `channel="FCM"`, `result="success"`); v != "3" {
		t.Fatalf("successful sends = %q\n%s", v, grepLines(text, "push"))
	}

	// FCM failing: counted as a failure and NEXUS_ACCESS_FAILURE; the
	// callback and the APIs carry on.
	if r, err := testenv.Do("POST", s.Sim.AdminURL+"/sim/fcm/fail?status=500", nil, nil); err != nil || r.Status != 200 {
		t.Fatalf("fcm fail: %v %+v", err, r)
	}
	failing := queued(pushSvc, "+15550704", "device-D") // URS says 45 s: the periodic check sends
	eventually(t, 20*time.Second, "a failed send", func() bool {
		return metricValue(metricsText(t, n), "ges_push_notifications_sent", `channel="FCM"`, `result="failure"`) == "1"
	})
	text = metricsText(t, n)
	if v := metricValue(text, "NEXUS_ACCESS_FAILURE"); v == "" || v == "0" {
		t.Fatalf("NEXUS_ACCESS_FAILURE = %q", v)
	}
	if st := state(t, n, failing); st != "QUEUED" {
		t.Fatalf("state after a failed push: %s", st)
	}
	report(pushSvc, failing, map[string]string{"_callback_state": "ROUTING", "_ewt": "5"})
	if st := state(t, n, failing); st != "ROUTING" {
		t.Fatalf("state after ROUTING: %s", st)
	}
	// At most once: a failed notification is not retried.
	if r, err := testenv.Do("DELETE", s.Sim.AdminURL+"/sim/fcm/fail", nil, nil); err != nil || r.Status != 200 {
		t.Fatalf("fcm fail off: %v %+v", err, r)
	}
	quiet(2500 * time.Millisecond)
	if got := messagesTo(fcmMessages(t, s), "device-D"); len(got) != 0 {
		t.Fatalf("messages to device-D: %+v", got)
	}
	text = metricsText(t, n)
	if ok, failed := metricValue(text, "ges_push_notifications_sent", `result="success"`), metricValue(text, "ges_push_notifications_sent", `result="failure"`); ok != "3" || failed != "1" {
		t.Fatalf("sent: success %q, failure %q\n%s", ok, failed, grepLines(text, "push"))
	}
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
