package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/gesgo/ges/internal/testenv"
)

func ewt(t *testing.T, n *testenv.Node, query string) (int, []map[string]any) {
	t.Helper()
	r, err := n.ExternalDo("GET", "/engagement/v3/estimated-wait-time?"+query, demoKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Data []map[string]any `json:"data"`
	}
	_ = json.Unmarshal(r.Body, &env)
	return r.Status, env.Data
}

func TestEstimatedWaitTime(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	code, data := ewt(t, n, "virtual-queues=Callback_Sales%2CNope%2CCallback_Support&mode=mode2&include-calls-on-hold=true&_=123")
	if code != 200 || len(data) != 3 {
		t.Fatalf("EWT: %d %v", code, data)
	}
	want := []struct {
		vq   string
		ewt  float64
		code float64
	}{{"Callback_Sales", 42, 0}, {"Nope", -1, -1}, {"Callback_Support", -1, -2}}
	for i, w := range want {
		d := data[i]
		if d["virtualQueue"] != w.vq || d["estimatedWaitTime"] != w.ewt || d["resultCode"] != w.code {
			t.Errorf("element %d: %v, want %+v", i, d, w)
		}
		if _, ok := d["message"].(string); !ok || (w.code != 0) == (d["message"] == "") {
			t.Errorf("element %d message: %v", i, d)
		}
	}
	for _, q := range []string{"mode=mode9&virtual-queues=Callback_Sales", "mode=mode1", "virtual-queues=&mode=mode1", "virtual-queues=A&include-calls-on-hold=maybe"} {
		if code, _ := ewt(t, n, q); code != 400 {
			t.Errorf("%s: %d", q, code)
		}
	}
	// queue-status carries the estimate.
	_, resp := n.External(t, "GET", "/engagement/v3/callbacks/queue-status/Callback_Sales", demoKey, nil)
	if resp["data"].(map[string]any)["ewt"] != 42.0 {
		t.Errorf("queue-status ewt: %v", resp)
	}
	// All URS down: -1 with a message, never an error status, and the gauge.
	for i := range 2 {
		if r, err := testenv.Do("POST", fmt.Sprintf("%s/sim/urs/%d/down", s.Sim.AdminURL, i), nil, nil); err != nil || r.Status != 200 {
			t.Fatalf("urs down: %v %v", err, r)
		}
	}
	eventually(t, 5*time.Second, "ALL_URS_DOWN 0", func() bool { return hasSample(metricsText(t, n), "ALL_URS_DOWN", "0") })
	time.Sleep(3 * time.Second) // past the estimate cache
	code, data = ewt(t, n, "virtual-queues=Callback_Sales")
	if code != 200 || data[0]["estimatedWaitTime"] != -1.0 || data[0]["message"] == "" {
		t.Errorf("EWT with URS down: %d %v", code, data)
	}
	testenv.Do("POST", s.Sim.AdminURL+"/sim/urs/1/up", nil, nil)
	eventually(t, 5*time.Second, "ALL_URS_DOWN 1", func() bool { return hasSample(metricsText(t, n), "ALL_URS_DOWN", "1") })
}

type simEntry struct {
	CallbackID, SessionID, Outcome string
}

func simEntries(t *testing.T, s *testenv.Stack) []simEntry {
	t.Helper()
	r, err := testenv.Do("GET", s.Sim.AdminURL+"/sim/ors/entries", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var es []simEntry
	decode(t, r.Body, &es)
	return es
}

// A callback in queue: live position from its ORS session, session
// diagnostics, check-queue-position, watermarks; cancelling it ends the
// session in ORS.
func TestQueuedCallbackAndORSSession(t *testing.T) {
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs = 60000
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx})
	n := s.Nodes[0]
	cc := demoCCID(s)
	id := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15559000"})
	var d map[string]any
	eventually(t, 5*time.Second, "QUEUED with a session", func() bool {
		_, d = retrieve(t, n, demoKey, id)
		code, b := n.Internal(t, "GET", "/ges/v1/callbacks/"+id+"/session", cc, nil)
		return d["callbackState"] == "QUEUED" && code == 200 && strings.Contains(string(b), "sessionId")
	})
	// The session answers check-queue-position (gessim: position 1).
	eventually(t, 5*time.Second, "position from the ORS session", func() bool {
		_, d = retrieve(t, n, demoKey, id)
		return d["positionInQueue"] == 1.0 && d["estimatedWaitTime"] != nil
	})
	code, b := n.Internal(t, "GET", "/genesys/1/service/"+id+"/check-queue-position", cc, nil)
	if code != 200 || !strings.Contains(string(b), "_position") {
		t.Fatalf("check-queue-position: %d %s", code, b)
	}
	code, b = n.Internal(t, "GET", "/genesys/1/admin/callback/watermarks", cc, nil)
	var wm struct {
		Services map[string]int `json:"services"`
		Total    int            `json:"total"`
	}
	decode(t, b, &wm)
	if code != 200 || wm.Services["Callback_Sales"] != 1 || wm.Services["Callback_Support"] != 0 || wm.Total != 1 {
		t.Fatalf("watermarks: %d %s", code, b)
	}
	code, b = n.Internal(t, "GET", "/genesys/1/admin/callback/queues?target=Callback_Sales&states=QUEUED", cc, nil)
	if code != 200 || !strings.Contains(string(b), id) {
		t.Fatalf("admin queues: %d %s", code, b)
	}

	if code, _ := n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]string{"id": id}); code != 200 {
		t.Fatal("cancel in QUEUED failed")
	}
	eventually(t, 5*time.Second, "ORS session terminated", func() bool {
		for _, e := range simEntries(t, s) {
			if e.CallbackID == id && e.Outcome == "terminated" {
				return true
			}
		}
		return false
	})
	// Bulk cancel by an administrator.
	a := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15559001", "desiredTime": wireTime(time.Now().Add(time.Hour))})
	code, b = n.Internal(t, "POST", "/genesys/1/admin/callback/cancel", cc, map[string]any{"ids": []string{a, "00000000-0000-4000-8000-000000000000"}})
	if code != 200 || !strings.Contains(string(b), `"cancelled":["`+a+`"]`) {
		t.Fatalf("bulk cancel: %d %s", code, b)
	}
	if _, d := retrieve(t, n, demoKey, a); d["callbackReason"] != "CANCELLED_BY_ADMIN" {
		t.Fatalf("after bulk cancel: %v", d)
	}
}

// URS nodes come from a real Consul agent; EWT requests go to the preferred
// region while it has a healthy node, to the next region otherwise.
func TestConsulRegionAffinity(t *testing.T) {
	c := testenv.StartConsul(t)
	fx := testenv.DefaultFixture()
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx, Env: map[string]string{
		"CONSUL_HTTP_ADDR": c.Addr, "REGION_AFFINITY": "east,west", "URS_URL": "", "ORS_URL": ""}})
	n := s.Nodes[0]
	cl, err := consul.NewClient(&consul.Config{Address: c.Addr})
	if err != nil {
		t.Fatal(err)
	}
	for i, region := range []string{"east", "west"} {
		u := s.Sim.URSURLs[i]
		host, port, _ := strings.Cut(strings.TrimPrefix(u, "http://"), ":")
		var p int
		fmt.Sscan(port, &p)
		reg := &consul.AgentServiceRegistration{ID: "urs-" + region, Name: "urs", Address: host, Port: p, Meta: map[string]string{"region": region},
			Check: &consul.AgentServiceCheck{HTTP: u + "/urs/health", Interval: "1s", Timeout: "1s"}}
		eventually(t, 10*time.Second, "consul registration", func() bool { return cl.Agent().ServiceRegister(reg) == nil })
	}
	calls := func() []float64 {
		r, _ := testenv.Do("GET", s.Sim.AdminURL+"/sim/urs/calls", nil, nil)
		var c struct {
			Instances []struct {
				Total float64 `json:"total"`
			} `json:"instances"`
		}
		decode(t, r.Body, &c)
		return []float64{c.Instances[0].Total, c.Instances[1].Total}
	}
	queue := 0
	ask := func() {
		queue++ // a new queue name each time: no cached estimate
		ewt(t, n, fmt.Sprintf("virtual-queues=Callback_Sales,Q%d", queue))
	}
	eventually(t, 15*time.Second, "east serves", func() bool {
		before := calls()
		ask()
		after := calls()
		return after[0] > before[0] && after[1] == before[1]
	})
	testenv.Do("POST", s.Sim.AdminURL+"/sim/urs/0/down", nil, nil)
	eventually(t, 15*time.Second, "west serves while east is critical", func() bool {
		before := calls()
		ask()
		after := calls()
		return after[1] > before[1]
	})
	testenv.Do("POST", s.Sim.AdminURL+"/sim/urs/1/down", nil, nil)
	eventually(t, 15*time.Second, "ALL_URS_DOWN reports it", func() bool { return hasSample(metricsText(t, n), "ALL_URS_DOWN", "0") })
	testenv.Do("POST", s.Sim.AdminURL+"/sim/urs/0/up", nil, nil)
	eventually(t, 15*time.Second, "east serves again", func() bool {
		before := calls()
		ask()
		return calls()[0] > before[0]
	})
	_ = context.Background
}

// Publishing a service creates its line-of-business proxy object in GWS
// Configuration; removing it deletes it; failures are counted and retried.
func TestVQProxyObjects(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{NoPublish: true})
	n := s.Nodes[0]
	scripts := func() []string {
		r, _ := testenv.Do("GET", s.Sim.AdminURL+"/sim/config/scripts", nil, nil)
		var list []struct {
			Name            string `json:"name"`
			ContactCenterID string `json:"contactCenterId"`
		}
		decode(t, r.Body, &list)
		var out []string
		for _, sc := range list {
			if sc.ContactCenterID == demoCCID(s) {
				out = append(out, sc.Name)
			}
		}
		return out
	}
	publishTable(t, s, n, row{"key": "VQ_A"}, row{"key": "VQ_B"})
	eventually(t, 5*time.Second, "proxies created", func() bool { return strings.Join(scripts(), ",") == "VQ_A,VQ_B" })
	publishTable(t, s, n, row{"key": "VQ_A"})
	eventually(t, 5*time.Second, "proxy deleted", func() bool { return strings.Join(scripts(), ",") == "VQ_A" })
	if r, err := testenv.Do("POST", s.Sim.AdminURL+"/sim/config/fail?count=2", nil, nil); err != nil || r.Status != 200 {
		t.Fatalf("sim fail: %v %v", err, r)
	}
	publishTable(t, s, n, row{"key": "VQ_A"}, row{"key": "VQ_C"})
	eventually(t, 5*time.Second, "RBAC_CREATE_VQ_PROXY_ERROR", func() bool { return strings.Contains(metricsText(t, n), "RBAC_CREATE_VQ_PROXY_ERROR{") })
	eventually(t, 20*time.Second, "retried create", func() bool { return strings.Join(scripts(), ",") == "VQ_A,VQ_C" })
	if !hasSample(metricsText(t, n), "GWS_CONFIG_STATUS", "1") {
		t.Error("GWS_CONFIG_STATUS is not 1")
	}
}
