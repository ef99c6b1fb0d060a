package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// SIGTERM while requests are arriving and callbacks are being handed off:
// the node stops accepting, answers what it accepted without a 5xx, hands
// off or gives back what it claimed and exits within 30 s; every callback
// it acknowledged is there, and each immediate one reaches ORS once.
func TestSIGTERMUnderLoadLosesNothing(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Nodes: 2, Fixture: roomy()})
	a, b := s.Nodes[0], s.Nodes[1]
	var mu sync.Mutex
	var acked, immediate []string
	var fivexx int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := map[string]any{"serviceName": "Callback_Sales", "phoneNumber": fmt.Sprintf("+1444%03d%04d", w, i)}
				now := i%2 == 0
				if !now {
					body["desiredTime"] = wireTime(time.Now().Add(time.Hour))
				}
				r, err := a.ExternalDo("POST", "/engagement/v3/callbacks/create", demoKey, body)
				if err == nil && r.Status >= 500 {
					mu.Lock()
					fivexx++
					mu.Unlock()
				}
				if err != nil || r.Status != 200 {
					continue // refused at the connection: not acknowledged
				}
				m, _ := r.JSON()
				id := m["data"].(map[string]any)["id"].(string)
				mu.Lock()
				acked = append(acked, id)
				if now {
					immediate = append(immediate, id)
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	start := time.Now()
	if err := a.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.Proc.Wait(30 * time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if len(acked) < 20 {
		t.Fatalf("only %d creates acknowledged before the stop", len(acked))
	}
	if fivexx > 0 {
		t.Fatalf("the draining node answered %d requests with a 5xx", fivexx)
	}
	for _, id := range acked {
		if code, _ := retrieve(t, b, demoKey, id); code != 200 {
			t.Fatalf("acknowledged callback %s is lost (%d)", id, code)
		}
	}
	for _, id := range immediate {
		eventually(t, 30*time.Second, "the hand-off of "+id, func() bool { return len(entriesFor(streamEntries(t, s), id)) >= 1 })
		if es := entriesFor(streamEntries(t, s), id); len(es) != 1 {
			t.Fatalf("immediate callback %s reached the stream %d times", id, len(es))
		}
	}
	t.Logf("%d acknowledged creates, all found; node stopped %s after SIGTERM", len(acked), took.Round(time.Millisecond))
}

// Readiness follows Redis; liveness does not.
func TestReadinessFollowsRedis(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	status := func(path string) int {
		r, err := testenv.Do("GET", n.InternalURL+path, nil, nil)
		if err != nil {
			return 0
		}
		return r.Status
	}
	s.Redis.Stop()
	eventually(t, 5*time.Second, "not ready without Redis", func() bool { return status("/ges/v1/health/ready") == 503 })
	for range 5 {
		if status("/ges/v1/health/live") != 200 {
			t.Fatal("liveness failed while Redis is down")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !hasSample(metricsText(t, n), "REDIS_CONNECTION", "0") {
		t.Error("REDIS_CONNECTION is not 0")
	}
	s.Redis.Restart()
	eventually(t, 10*time.Second, "ready again", func() bool { return status("/ges/v1/health/ready") == 200 })
}

// Alert counters move on their real conditions (the GWS and push ones are
// provoked in the statistics and push tests).
func TestAlertCountersMove(t *testing.T) {
	fx := roomy()
	cc := fx.ContactCenter("Demo")
	cc.SetSetting("Callback_Sales", "Throttle Callbacks Per Service 1", "3")
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx, Env: map[string]string{
		"FAULT_INJECTION": "true",
		"GWS_CONF_URL":    "http://bad..host", // a name that cannot resolve: GES_DNS_FAILURE
	}})
	n := s.Nodes[0]
	counter := func(name string) bool { return strings.Contains(metricsText(t, n), name+"{") }
	for _, name := range []string{"UNCAUGHT_EXCEPTION", "INVALID_CONTENT_LENGTH", "CB_ENQUEUE_LIMIT_REACHED", "CB_TTL_LIMIT_REACHED", "CB_SUBMIT_FAILED"} {
		if counter(name) {
			t.Fatalf("%s exported before its first occurrence", name)
		}
	}
	// A recovered panic answers 500 and counts.
	if code, _ := n.Internal(t, "POST", "/ges/v1/debug/panic", "", nil); code != 500 {
		t.Fatalf("panic endpoint: %d", code)
	}
	// An oversized body.
	big := `{"serviceName":"Callback_Sales","phoneNumber":"1","userData":{"x":"` + strings.Repeat("y", 600*1000) + `"}}`
	// GES answers 413 and closes before the client has written it all, so
	// the client may see its write cut: the answer does not matter here.
	_, _ = n.ExternalDo("POST", "/engagement/v3/callbacks/create", demoKey, big)
	// The per-number limit (2 active) and the rate window (3 per 5 minutes).
	for range 3 {
		n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+1333", "desiredTime": wireTime(time.Now().Add(time.Hour))})
	}
	for _, phone := range []string{"+1334", "+1336"} { // the third and fourth admitted create
		n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": phone})
	}
	// A hand-off while the Voice Redis is down.
	s.Voice.Stop()
	n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{"serviceName": "Callback_Support", "phoneNumber": "+1335"})
	for _, name := range []string{"UNCAUGHT_EXCEPTION", "INVALID_CONTENT_LENGTH", "CB_ENQUEUE_LIMIT_REACHED", "CB_TTL_LIMIT_REACHED", "CB_SUBMIT_FAILED", "GES_DNS_FAILURE", "RBAC_CREATE_VQ_PROXY_ERROR"} {
		eventually(t, 10*time.Second, name, func() bool { return counter(name) })
	}
	m := metricsText(t, n)
	for _, want := range []string{`UNCAUGHT_EXCEPTION{host="`, `,version="`} {
		if !strings.Contains(m, want) {
			t.Errorf("labels: %s missing", want)
		}
	}
	if !hasSample(m, "GWS_CONFIG_STATUS", "0") {
		t.Error("GWS_CONFIG_STATUS is not 0 with an unresolvable GWS Configuration")
	}
}

// A log write that fails is counted, and GES keeps serving.
func TestLoggingFailureCounted(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	ges, _ := testenv.Binaries(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer full.Close()
	port, ext := testenv.FreePort(t), testenv.FreePort(t)
	env := []string{"PATH=/usr/bin:/bin"}
	for k, v := range s.Nodes[0].Env {
		switch k {
		case "INTERNAL_PORT":
			v = strconv.Itoa(port)
		case "EXTERNAL_PORT":
			v = strconv.Itoa(ext)
		case "INTERNAL_URL":
			v = "http://127.0.0.1:" + strconv.Itoa(port)
		}
		env = append(env, k+"="+v)
	}
	cmd := exec.Command(ges)
	cmd.Env = env
	cmd.Stdout = full
	logs, _ := os.Create(t.TempDir() + "/stderr")
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	eventually(t, 20*time.Second, "node up", func() bool {
		r, err := http.Get(url + "/ges/v1/health/ready")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	eventually(t, 5*time.Second, "LOGGING_FAILURE", func() bool {
		r, err := testenv.Do("GET", url+"/metrics", nil, nil)
		return err == nil && strings.Contains(string(r.Body), "LOGGING_FAILURE{")
	})
}

// A background loop that fails takes the node out of readiness and ends
// the process with a non-zero status, so that Kubernetes replaces it
// instead of keeping a half-alive node.
func TestFailedLoopStopsTheNode(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Env: map[string]string{"FAULT_INJECTION": "true"}})
	n := s.Nodes[0]
	if r, err := testenv.Do("POST", n.InternalURL+"/ges/v1/debug/loop-panic", nil, nil); err != nil || r.Status != 202 {
		t.Fatalf("loop-panic: %v %v", err, r)
	}
	err := n.Proc.Wait(30 * time.Second)
	if !n.Proc.Exited() {
		t.Fatalf("the node did not stop after a loop failed: %v", err)
	}
	if err == nil {
		t.Fatal("the node exited with status 0 after a loop failed")
	}
	if !strings.Contains(n.Proc.Logs(), "fault-injection") {
		t.Fatalf("the failure is not logged:\n%s", n.Proc.Tail(20))
	}
}
