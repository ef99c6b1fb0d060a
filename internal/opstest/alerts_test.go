package opstest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// targetLabels are the labels Prometheus adds to every series it scrapes from
// a GES pod through the chart's ServiceMonitor (job = the Service name).
func targetLabels(n *testenv.Node) map[string]string {
	u, _ := url.Parse(n.InternalURL)
	return map[string]string{"job": "ges", "namespace": namespace, "instance": u.Host, "pod": n.Name}
}

// machineSeries matches the series whose values depend on the machine GES
// runs on rather than on GES: the Go runtime's (GC pauses, heap), the
// process' (CPU, memory) and request latencies. On a busy CI box they cross
// the alert thresholds on their own, so the rules reading them are tested
// on written series only (TestAlertRulesOnSyntheticSeries) and the live
// scrapes leave them out.
var machineSeries = regexp.MustCompile(`^(go_|process_|ges_process_|ges_http_request_duration_seconds)`)

// metricRef finds every identifier of an expression; the metric names are
// among them, and no function, keyword or label name looks like a machine
// series.
var metricRef = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

// machineRules are the alerts whose expression reads a machine series.
func machineRules(rules []alertRule) map[string]bool {
	out := map[string]bool{}
	for _, r := range rules {
		for _, name := range metricRef.FindAllString(r.Expr, -1) {
			if machineSeries.MatchString(name) {
				out[r.Alert] = true
			}
		}
	}
	return out
}

// gesOwn drops the machine series from scraped samples.
func gesOwn(samples []sample) []sample {
	return slices.DeleteFunc(samples, func(s sample) bool { return machineSeries.MatchString(s.Name) })
}

// scrape reads a node's /metrics and labels the samples as Prometheus would.
func scrape(n *testenv.Node) ([]sample, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(n.InternalURL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	samples, err := parseExposition(string(body))
	if err != nil {
		return nil, err
	}
	for _, s := range samples {
		for k, v := range targetLabels(n) {
			s.Labels[k] = v
		}
	}
	return samples, nil
}

// scrapeUntil scrapes a node until every gauge has the wanted value. A
// scrape that fails or is slow (a busy machine) is tried again until the
// timeout.
func scrapeUntil(t *testing.T, n *testenv.Node, want map[string]float64, timeout time.Duration) []sample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		samples, err := scrape(n)
		ok := err == nil
		if err != nil {
			last = err.Error()
		}
		for name, v := range want {
			if got, found := find(samples, name, nil); ok && (!found || got != v) {
				ok, last = false, fmt.Sprintf("%s=%v (found %v)", name, got, found)
			}
		}
		if ok {
			return samples
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /metrics did not reach %v within %s; last: %s", n, want, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The rules that read the machine's load are recognised as such, so that the
// live test below cannot depend on them (a rule file change that hides one
// from the detection fails here).
func TestMachineRulesAreKnown(t *testing.T) {
	helm := tool(t, "helm")
	got := machineRules(parseAlertRules(t, renderRules(t, helm)))
	for _, a := range []string{"GES_CPU_USAGE", "GES_MEMORY_USAGE", "GES-NODE-JS-DELAY-WARNING", "GES_SLOW_HTTP_RESPONSE_TIME"} {
		if !got[a] {
			t.Errorf("%s reads the machine's load but is not taken for a machine rule", a)
		}
	}
	// The live test must keep the rules of GES' own gauges.
	for _, a := range []string{"GES_HEALTH", "GES_ORIS_REDIS_DOWN", "GES_GWS_AUTH_DOWN", "GES_GWS_ENVIRONMENT_DOWN", "GES_UP"} {
		if got[a] {
			t.Errorf("%s reads GES' own gauges but is taken for a machine rule", a)
		}
	}
}

// The chart's alert rules that read GES' own counters and health gauges,
// evaluated by promtool on what two real GES nodes export: nothing fires
// while the platform is healthy; when the Voice Redis goes away, GES_HEALTH
// fires at once and GES_ORIS_REDIS_DOWN after its 5 minutes of `for`, in
// promtool's simulated time. The machine series (GC, CPU, memory, latency)
// are left out of the scrapes: how loaded the test machine is must not
// decide the outcome.
func TestAlertRulesOnRealMetrics(t *testing.T) {
	helm, promtool := tool(t, "helm"), tool(t, "promtool")
	ruleFile := renderRules(t, helm)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(ruleFile), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, promtool, "check", "rules", "rules.yml")
	machine := machineRules(parseAlertRules(t, ruleFile))

	stack := testenv.NewStack(t, testenv.StackOptions{Nodes: 2})
	healthyWant := map[string]float64{"GES_HEALTH": 1, "ORS_REDIS_STATUS": 1, "REDIS_CONNECTION": 1}
	var healthy []sample
	for _, n := range stack.Nodes {
		healthy = append(healthy, gesOwn(scrapeUntil(t, n, healthyWant, time.Minute))...)
	}

	stack.Voice.Stop()
	downWant := map[string]float64{"GES_HEALTH": 0, "ORS_REDIS_STATUS": 0}
	var down []sample
	for _, n := range stack.Nodes {
		down = append(down, gesOwn(scrapeUntil(t, n, downWant, time.Minute))...)
	}

	// Minutes 0-19: the healthy scrapes; minutes 20-30: the outage scrapes.
	// Both nodes keep answering /metrics, so their up series stay 1.
	tl := newTimeline()
	tl.phase(20, healthy)
	tl.phase(11, down)
	for _, n := range stack.Nodes {
		tl.set("up", targetLabels(n), "1x30")
	}

	var cases []alertCase
	for _, a := range guideAlerts {
		if !machine[a.Name] {
			cases = append(cases, alertCase{At: "19m", Alert: a.Name})
		}
	}
	// The alerts carry the gauge's labels (version, host) and the target's.
	firing := func(gauge string) []expAlert {
		var out []expAlert
		for _, s := range down {
			if s.Name == gauge {
				out = append(out, expAlert(s.Labels))
			}
		}
		if len(out) != len(stack.Nodes) {
			t.Fatalf("%d %s series on %d nodes", len(out), gauge, len(stack.Nodes))
		}
		return out
	}
	cases = append(cases,
		alertCase{At: "20m", Alert: "GES_HEALTH", Firing: firing("GES_HEALTH")},
		alertCase{At: "30m", Alert: "GES_HEALTH", Firing: firing("GES_HEALTH")},
		alertCase{At: "20m", Alert: "GES_ORIS_REDIS_DOWN"},
		alertCase{At: "24m", Alert: "GES_ORIS_REDIS_DOWN"},
		alertCase{At: "25m", Alert: "GES_ORIS_REDIS_DOWN", Firing: firing("ORS_REDIS_STATUS")},
		alertCase{At: "30m", Alert: "GES_ORIS_REDIS_DOWN", Firing: firing("ORS_REDIS_STATUS")},
		// GWS, the GES Redis and the node count are not affected.
		alertCase{At: "30m", Alert: "GES_GWS_AUTH_DOWN"},
		alertCase{At: "30m", Alert: "GES_GWS_ENVIRONMENT_DOWN"},
		alertCase{At: "30m", Alert: "GES_UP"},
	)
	promtoolTest(t, promtool, ruleFile, tl, cases)
}

// The rules whose inputs a short run of GES cannot produce (alert counters,
// request rates, kube-state-metrics) and those that depend on the machine's
// load (GC pauses, CPU, memory, latency), which are tested here only, on
// series written by hand with the names and labels GES and
// kube-state-metrics export.
func TestAlertRulesOnSyntheticSeries(t *testing.T) {
	helm, promtool := tool(t, "helm"), tool(t, "promtool")
	ruleFile := renderRules(t, helm)
	machine := machineRules(parseAlertRules(t, ruleFile))

	target := map[string]string{"job": "ges", "namespace": namespace, "instance": "10.1.2.3:3050", "pod": "ges-ges-7d9f-abcde"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range target {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	gesLabels := with(map[string]string{"version": "1.0.0", "host": "ges-ges-7d9f-abcde"})
	kube := func(pod, container string) map[string]string {
		return map[string]string{"job": "kube-state-metrics", "namespace": namespace, "pod": pod, "container": container}
	}

	tl := newTimeline()
	// An alert counter appears at minute 10 (its first occurrence) and moves
	// again at minute 16. ("_xN" is N missing samples.)
	tl.set("CB_SUBMIT_FAILED", gesLabels, "_x10 1x5 2x14")
	// One request over the size limit at minute 10; the tolerance is 1.
	tl.set("INVALID_CONTENT_LENGTH", gesLabels, "_x10 1x19")
	tl.set("invalid_content_length_tolerance", target, "1x30")
	// One 401 at minute 10, two more at minute 11; the tolerance is 2.
	tl.set("ges_http_failed_requests_total", with(map[string]string{"tenant": "Unknown Tenant", "path": "/engagement/v3/callbacks/create", "httpCode": "401"}), "_x10 1 3x18")
	tl.set("http_401_tolerance", target, "2x30")
	// Health gauges drop at minute 10.
	tl.set("GWS_CONFIG_STATUS", gesLabels, "1x9 0x20")
	tl.set("GWS_AUTH_STATUS", gesLabels, "1x9 0x20")
	// 70 s of CPU a minute from minute 11 (1.17 cores; the limit is 1.25).
	tl.set("ges_process_cpu_seconds_total", target, "0x10 70+70x19")
	// The heap at 88% of GOMEMLIMIT from minute 10.
	tl.set("go_memstats_heap_inuse_bytes", target, "100000000x9 944000000x20")
	tl.set("go_gc_gomemlimit_bytes", target, "1073741824x29")
	// 10 ms GC pauses from minute 10.
	tl.set("go_gc_duration_seconds", with(map[string]string{"quantile": "0.75"}), "0.0001x9 0.01x20")
	// Requests averaging 2 s each.
	tl.set("ges_http_request_duration_seconds_sum", with(map[string]string{"path": "Private API Endpoint", "method": "GET"}), "0+120x29")
	tl.set("ges_http_request_duration_seconds_count", with(map[string]string{"path": "Private API Endpoint", "method": "GET"}), "0+60x29")
	// Two targets, one of which stops answering at minute 10.
	tl.set("up", target, "1x29")
	tl.set("up", with(map[string]string{"instance": "10.1.2.4:3050", "pod": "ges-ges-7d9f-fghij"}), "1x9 0x20")
	// Four GES pods, three not ready from minute 10; a pod of another
	// release and a sidecar are never ready and must not count.
	tl.set("kube_pod_container_status_ready", kube("ges-ges-7d9f-abcde", "ges"), "1x29")
	for _, p := range []string{"ges-ges-7d9f-fghij", "ges-ges-7d9f-klmno", "ges-ges-7d9f-pqrst"} {
		tl.set("kube_pod_container_status_ready", kube(p, "ges"), "1x9 0x20")
	}
	tl.set("kube_pod_container_status_ready", kube("other-ges-5c4b-zzzzz", "ges"), "0x29")
	tl.set("kube_pod_container_status_ready", kube("ges-ges-7d9f-abcde", "istio-proxy"), "0x29")
	// A container restarting once a minute from minute 10.
	tl.set("kube_pod_container_status_restarts_total", kube("ges-ges-7d9f-fghij", "ges"), "0x9 1+1x20")

	counter := expAlert(gesLabels)
	pod := expAlert(target)
	ns := expAlert{"namespace": namespace}
	cases := []alertCase{
		{At: "9m", Alert: "GES_CB_SUBMIT_FAILED"},
		{At: "10m", Alert: "GES_CB_SUBMIT_FAILED", Firing: []expAlert{counter}},
		{At: "11m", Alert: "GES_CB_SUBMIT_FAILED", Firing: []expAlert{counter}},
		{At: "13m", Alert: "GES_CB_SUBMIT_FAILED"},
		{At: "16m", Alert: "GES_CB_SUBMIT_FAILED", Firing: []expAlert{counter}},
		{At: "19m", Alert: "GES_CB_SUBMIT_FAILED"},

		{At: "9m", Alert: "GES_INVALID_CONTENT_LENGTH"},
		{At: "10m", Alert: "GES_INVALID_CONTENT_LENGTH", Firing: []expAlert{counter}},
		{At: "13m", Alert: "GES_INVALID_CONTENT_LENGTH"},

		{At: "10m", Alert: "GES_HTTP_401_POD"},
		{At: "11m", Alert: "GES_HTTP_401_POD", Firing: []expAlert{pod}},
		{At: "17m", Alert: "GES_HTTP_401_POD"},
		{At: "11m", Alert: "GES_HTTP_400_POD"},

		{At: "9m", Alert: "GES_GWS_CONFIG_DOWN"},
		{At: "10m", Alert: "GES_GWS_CONFIG_DOWN", Firing: []expAlert{counter}},
		{At: "14m", Alert: "GES_GWS_AUTH_DOWN"},
		{At: "15m", Alert: "GES_GWS_AUTH_DOWN", Firing: []expAlert{counter}},

		// rate() at 11m extrapolates the counter from 0 at 10m over the
		// whole 2m window (0.58 cores); from 12m it sees 1.17 cores.
		{At: "11m", Alert: "GES_CPU_USAGE"},
		{At: "12m", Alert: "GES_CPU_USAGE"},
		{At: "13m", Alert: "GES_CPU_USAGE", Firing: []expAlert{pod}},

		{At: "11m", Alert: "GES_MEMORY_USAGE"},
		{At: "12m", Alert: "GES_MEMORY_USAGE", Firing: []expAlert{pod}},

		{At: "14m", Alert: "GES-NODE-JS-DELAY-WARNING"},
		{At: "15m", Alert: "GES-NODE-JS-DELAY-WARNING", Firing: []expAlert{expAlert(with(map[string]string{"quantile": "0.75"}))}},

		{At: "15m", Alert: "GES_SLOW_HTTP_RESPONSE_TIME"},
		{At: "16m", Alert: "GES_SLOW_HTTP_RESPONSE_TIME", Firing: []expAlert{pod}},

		{At: "9m", Alert: "GES_UP"},
		{At: "24m", Alert: "GES_UP"},
		{At: "25m", Alert: "GES_UP", Firing: []expAlert{{"job": "ges", "namespace": namespace}}},

		{At: "14m", Alert: "GES_NOT_READY_CRITICAL"},
		{At: "15m", Alert: "GES_NOT_READY_CRITICAL", Firing: []expAlert{ns}},
		{At: "19m", Alert: "GES_NOT_READY_WARNING"},
		{At: "20m", Alert: "GES_NOT_READY_WARNING", Firing: []expAlert{ns}},

		{At: "12m", Alert: "GES_PODS_RESTART"},
		{At: "18m", Alert: "GES_PODS_RESTART", Firing: []expAlert{ns}},
	}
	// The live test leaves the machine rules out, so each must be seen
	// both quiet and firing here.
	for a := range machine {
		quiet := slices.ContainsFunc(cases, func(c alertCase) bool { return c.Alert == a && len(c.Firing) == 0 })
		firing := slices.ContainsFunc(cases, func(c alertCase) bool { return c.Alert == a && len(c.Firing) > 0 })
		if !quiet || !firing {
			t.Errorf("machine rule %s needs a quiet and a firing case on written series", a)
		}
	}
	promtoolTest(t, promtool, ruleFile, tl, cases)
}
