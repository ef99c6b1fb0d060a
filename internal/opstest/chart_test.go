package opstest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gesgo/ges/internal/testenv"
)

// guideAlerts is the guide's alert table ("Alerts"): every alert with its
// severity and the `for` its threshold implies ("" = fires at once).
var guideAlerts = []struct{ Name, Severity, For string }{
	{"GES_UP", "critical", "15m"},
	{"GES_CPU_USAGE", "info", "1m"},
	{"GES_MEMORY_USAGE", "info", "90s"},
	{"GES-NODE-JS-DELAY-WARNING", "warning", "5m"},
	{"GES_NOT_READY_CRITICAL", "critical", "5m"},
	{"GES_NOT_READY_WARNING", "warning", "10m"},
	{"GES_PODS_RESTART", "critical", ""},
	{"GES_HEALTH", "critical", ""},
	{"GES_ORIS_REDIS_DOWN", "critical", "5m"},
	{"GES_GWS_AUTH_DOWN", "warning", "5m"},
	{"GES_GWS_ENVIRONMENT_DOWN", "warning", ""},
	{"GES_GWS_CONFIG_DOWN", "warning", ""},
	{"GES_GWS_SERVER_ERROR", "warning", ""},
	{"GES_HTTP_400_POD", "info", ""},
	{"GES_HTTP_404_POD", "info", ""},
	{"GES_HTTP_500_POD", "info", ""},
	{"GES_HTTP_401_POD", "info", ""},
	{"GES_SLOW_HTTP_RESPONSE_TIME", "warning", "15m"},
	{"GES_RBAC_CREATE_VQ_PROXY_ERROR", "info", ""},
	{"GES_LOGGING_FAILURE", "warning", ""},
	{"GES_UNCAUGHT_EXCEPTION", "warning", ""},
	{"GES_INVALID_CONTENT_LENGTH", "error", ""},
	{"GES_DNS_FAILURE", "warning", ""},
	{"GES_CB_TTL_LIMIT_REACHED", "error", ""},
	{"GES_CB_ENQUEUE_LIMIT_REACHED", "error", ""},
	{"GES_CB_SUBMIT_FAILED", "error", ""},
	{"GES_GWS_INCORRECT_CLIENT_CREDENTIALS", "error", ""},
}

// The guide's sample values install unchanged: lint in strict mode passes and
// the chart renders, with the guide's file and with the other CI values.
func TestChartLintsAndRendersWithGuideValues(t *testing.T) {
	helm := tool(t, "helm")
	dir := chartDir(t)
	for _, values := range []string{"", "ci/guide-sample-values.yaml", "ci/all-features-values.yaml"} {
		args := []string{"lint", "--strict", ".", "--namespace", namespace}
		if values != "" {
			args = append(args, "-f", values)
		}
		out := run(t, dir, helm, args...)
		if !strings.Contains(out, "0 chart(s) failed") {
			t.Fatalf("helm lint %s:\n%s", values, out)
		}
	}

	out := helmTemplate(t, helm, []string{"ci/guide-sample-values.yaml"}, nil)
	for _, kind := range []string{"ConfigMap", "Service", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget"} {
		if !strings.Contains(out, "\nkind: "+kind+"\n") {
			t.Errorf("the guide's values render no %s", kind)
		}
	}
	// The guide's sample switches Prometheus off ("false" as a string).
	for _, kind := range []string{"PrometheusRule", "ServiceMonitor", "Ingress"} {
		if strings.Contains(out, "\nkind: "+kind+"\n") {
			t.Errorf("the guide's values render a %s although they switch it off", kind)
		}
	}
	for _, want := range []string{
		// The guide's envFrom names this config map.
		"name: ges-ges-configmap",
		// Its labels use templates.
		"version: 'ges'",
		"image: \"genesys/ges:9.0.048.00.build.205.rev.55fe5bd94\"",
		"minReadySeconds: 300",
		"path: /ges/v1/health/live",
		"path: /ges/v1/health/ready",
		"port: internal",
		"containerPort: 3005", // the sample's external_port
		"secretName: voice-redis-ors-stream",
		"mountPath: /secrets-gws",
		"minAvailable: 1",
		"minReplicas: 2",
		"selectPolicy: Max",
		"value: \"3\"", // dnsConfig ndots
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered guide values lack %q", want)
		}
	}
	if n := len(regexp.MustCompile(`name: ['"]?ges-ges-configmap['"]?\n`).FindAllString(out, -1)); n != 2 {
		t.Errorf("the config map should be defined once and referenced once (the guide's envFrom is not doubled):\n%s", out)
	}
}

// configMapData returns the data of the chart's ConfigMap in a rendering.
func configMapData(t *testing.T, manifest string) map[string]string {
	t.Helper()
	doc := ""
	for _, d := range strings.Split(manifest, "\n---\n") {
		if strings.Contains(d, "\nkind: ConfigMap\n") && strings.Contains(d, "-configmap\n") {
			doc = d
		}
	}
	_, data, ok := strings.Cut(doc, "\ndata:\n")
	if !ok {
		t.Fatalf("no ConfigMap data in:\n%s", manifest)
	}
	env := map[string]string{}
	for _, l := range strings.Split(data, "\n") {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		k, v, _ := strings.Cut(strings.TrimSpace(l), ": ")
		env[k] = yamlScalar(t, v)
	}
	return env
}

// The guide's configMap keys reach GES under the names internal/config reads.
func TestChartConfigMapEnvironment(t *testing.T) {
	helm := tool(t, "helm")

	guide := configMapData(t, helmTemplate(t, helm, []string{"ci/guide-sample-values.yaml"}, nil, "--show-only", "templates/configmap.yaml"))
	want := map[string]string{
		"LOG_LEVEL": "DEBUG", "LOG_MAX_LEN": "2048",
		"INTERNAL_PORT": "3050", "EXTERNAL_PORT": "3005", "INTERNAL_URL": "ges.ges",
		"DEVOPS_ACCESS_GROUPS": "Platform Read Only,Platform Provisioning,Platform Internal Administrator",
		"UI_DEVOPS_USERNAME":   "admin", "UI_DEVOPS_PASSWORD": "letmein",
		"REDIS_SECURE": "false", "DB_SECURE": "false",
		"VMCS_REDIS_CLUSTER_MODE": "false", "VMCS_REDIS_STREAM_NAME": "NewCallbackStream",
		"CONFIG_FOLDERS": "/secrets-infra,/secrets-ors,/secrets-gws",
	}
	for k, v := range want {
		if guide[k] != v {
			t.Errorf("guide values: %s = %q, want %q", k, guide[k], v)
		}
	}
	// The sample leaves hosts empty (secrets supply them); nothing empty or
	// half-made may reach GES, such as ORS_REDIS_LOCATION ":10000".
	for _, k := range []string{"REDIS_HOST", "DB_HOST", "DB_NAME", "VMCS_REDIS_HOST", "ORS_REDIS_LOCATION", "GWS_AUTH_URL", "REGION_AFFINITY"} {
		if v, ok := guide[k]; ok {
			t.Errorf("guide values: %s = %q rendered, want it left out", k, v)
		}
	}

	all := configMapData(t, helmTemplate(t, helm, []string{"ci/all-features-values.yaml"}, nil, "--show-only", "templates/configmap.yaml"))
	want = map[string]string{
		"LOG_LEVEL": "INFO", "LOG_MAX_LEN": "4096", // the table's maxLen wins over the default max_len
		"REGION_AFFINITY": "westus2", "DEVOPS_ACCESS_GROUPS": "Platform Provisioning", "REGION": "dc1",
		"DECRYPT_PASSWORD":      "s3cret",
		"MONITOR_LEASE_SECONDS": "30",
		"REDIS_HOST":            "redis-ges.redis", "REDIS_PORT": "6379", "REDIS_SECURE": "true", "REDIS_CLUSTER": "true",
		"DB_HOST": "postgres.ges", "DB_PORT": "5432", "DB_NAME": "ges", "DB_SECURE": "true",
		"GWS_AUTH_URL": "http://gauth-auth.gauth:80", "GWS_ENV_URL": "http://gauth-environment.gauth:80",
		"GWS_CONF_URL": "http://gws-service-proxy.gws:80", "GWS_PUBLIC_AUTH_URL": "https://gauth.example.com",
		"VMCS_REDIS_HOST": "redis-ors-stream.voice", "VMCS_REDIS_PORT": "6379", "VMCS_REDIS_CLUSTER_MODE": "true",
		"VMCS_REDIS_SECURE": "true", "ORS_REDIS_LOCATION": "redis-ors-stream.voice:6379",
		"CONSUL_HTTP_ADDR": "http://consul-server.consul:8500",
		"CONFIG_FOLDERS":   "/secrets-infra",
	}
	for k, v := range want {
		if all[k] != v {
			t.Errorf("all-features values: %s = %q, want %q", k, all[k], v)
		}
	}
}

// The ingress routes exactly the guide's ten paths: the REST API to the
// external port, the UI to the internal port.
func TestChartIngressPaths(t *testing.T) {
	helm := tool(t, "helm")
	out := helmTemplate(t, helm, []string{"ci/guide-sample-values.yaml"}, []string{"ges.ingress.ingressint.enabled=true", "ges.ingress.ingressint.hosts[0]=ges.example.com"},
		"--show-only", "templates/ingress.yaml")
	guidePaths := []string{"/ges/", "/engagement/v3/callbacks/create", "/engagement/v3/callbacks/cancel",
		"/engagement/v3/callbacks/retrieve", "/engagement/v3/callbacks/availability/", "/engagement/v3/callbacks/queue-status/",
		"/engagement/v3/callbacks/open-for/", "/engagement/v3/estimated-wait-time", "/engagement/v3/call-in/requests/create",
		"/engagement/v3/statistics/operations/get-statistic-ex"}
	re := regexp.MustCompile(`(?s)- path: "([^"]+)"\s+pathType: (\w+)\s+backend:\s+service:\s+name: (\S+)\s+port:\s+number: (\d+)`)
	var got []string
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		got = append(got, m[1])
		wantPort := "8080" // the sample's port_external
		if m[1] == "/ges/" {
			wantPort = "80"
		}
		if m[2] != "Prefix" || m[3] != "ges" || m[4] != wantPort {
			t.Errorf("path %s: pathType %s, service %s port %s; want Prefix, ges, %s", m[1], m[2], m[3], m[4], wantPort)
		}
	}
	if !slices.Equal(got, guidePaths) {
		t.Errorf("ingress paths\n got %q\nwant %q\n%s", got, guidePaths, out)
	}
	if !strings.Contains(out, `host: "ges.example.com"`) {
		t.Errorf("ingress host missing:\n%s", out)
	}
}

// Every alert of the guide's table is in the rendered PrometheusRule, with
// the table's severity and duration; health gauges are compared with == 0
// (1 = healthy), and every GES series is read with our exported names.
func TestPrometheusRuleHasEveryGuideAlert(t *testing.T) {
	helm := tool(t, "helm")
	manifest := helmTemplate(t, helm, []string{"ci/guide-sample-values.yaml"}, []string{"ges.monitoring.prometheus.enabled=true"},
		"--show-only", "templates/prometheusrule.yaml")
	if !strings.Contains(manifest, "kind: PrometheusRule") || !strings.Contains(manifest, "apiVersion: monitoring.coreos.com/v1") {
		t.Fatalf("not a PrometheusRule:\n%s", manifest)
	}
	rules := parseAlertRules(t, ruleFileFromPrometheusRule(t, manifest))
	byName := rulesByName(rules)
	if len(byName) != len(rules) {
		t.Errorf("duplicate alert names among %d rules", len(rules))
	}
	for _, a := range guideAlerts {
		r, ok := byName[a.Name]
		if !ok {
			t.Errorf("alert %s of the guide's table is missing", a.Name)
			continue
		}
		if r.Labels["severity"] != a.Severity {
			t.Errorf("%s: severity %q, want %q", a.Name, r.Labels["severity"], a.Severity)
		}
		if r.For != a.For {
			t.Errorf("%s: for %q, want %q", a.Name, r.For, a.For)
		}
		if r.Labels["service"] != "GES" || r.Annotations["summary"] == "" {
			t.Errorf("%s: labels %v annotations %v", a.Name, r.Labels, r.Annotations)
		}
	}
	if len(rules) != len(guideAlerts) {
		t.Errorf("%d rules, the guide's table has %d alerts", len(rules), len(guideAlerts))
	}
	for _, g := range []string{"GES_HEALTH", "ORS_REDIS_STATUS", "GWS_AUTH_STATUS", "GWS_ENV_STATUS", "GWS_CONFIG_STATUS"} {
		for _, r := range rules {
			if strings.Contains(r.Expr, g+"{") && !regexp.MustCompile(regexp.QuoteMeta(g)+`\{[^}]*\} == 0$`).MatchString(r.Expr) {
				t.Errorf("%s: health gauge %s must be compared with == 0: %s", r.Alert, g, r.Expr)
			}
		}
	}
	// The guide's Node.js names do not exist in this GES.
	for _, r := range rules {
		for _, bad := range []string{"nodejs", "eventloop", "ges_http_failed_requests_returned", "DNS_FAILURE{"} {
			if strings.Contains(r.Expr, bad) && !strings.Contains(r.Expr, "GES_"+bad) {
				t.Errorf("%s reads %s, which GES does not export: %s", r.Alert, bad, r.Expr)
			}
		}
	}
}

// deploy/ holds copies of what the chart ships, for docker-compose: the
// Grafana dashboard and the Prometheus rule file. They must not drift.
func TestDeployFilesMatchChart(t *testing.T) {
	root := testenv.ModuleRoot(t)
	chartDash, err := os.ReadFile(filepath.Join(root, "charts/ges/dashboards/ges-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	deployDash, err := os.ReadFile(filepath.Join(root, "deploy/grafana/ges-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chartDash, deployDash) {
		t.Errorf("deploy/grafana/ges-dashboard.json differs from charts/ges/dashboards/ges-dashboard.json; run scripts/ops-render.sh")
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(chartDash, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs++
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
				t.Errorf("panel %q: unbalanced expression %s", p.Title, tg.Expr)
			}
		}
	}
	if dash.Title != "GES Performance" || exprs < 20 {
		t.Errorf("dashboard %q has %d queries", dash.Title, exprs)
	}

	helm := tool(t, "helm")
	want := deployRuleFile(renderRulesDefault(t, helm))
	got, err := os.ReadFile(filepath.Join(root, "deploy/prometheus/rules/ges-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("deploy/prometheus/rules/ges-alerts.yml is not what the chart renders; run scripts/ops-render.sh")
	}
}

// renderRulesDefault renders the rules with the chart's default values, the
// way scripts/ops-render.sh does for docker-compose.
func renderRulesDefault(t *testing.T, helm string) string {
	t.Helper()
	out := helmTemplate(t, helm, nil, []string{"ges.monitoring.prometheus.enabled=true"}, "--show-only", "templates/prometheusrule.yaml")
	return ruleFileFromPrometheusRule(t, out)
}

// deployRuleFile is the rule file scripts/ops-render.sh writes: a header and
// the rendered groups.
func deployRuleFile(groups string) string {
	return "# Rendered from charts/ges (templates/prometheusrule.yaml, default values,\n" +
		"# namespace ges) by scripts/ops-render.sh; do not edit by hand.\n" + groups
}

// The NetworkPolicy denies by default: the external port takes the peers
// of networkPolicies.from, the internal port (GMS API, Designer's publish,
// metrics) only the release's namespace and networkPolicies.internalFrom.
// The gateway never routes the GMS API, /metrics or everything ("/").
func TestChartExposesOnlyWhatMustBePublic(t *testing.T) {
	helm := tool(t, "helm")
	out := helmTemplate(t, helm, []string{"ci/all-features-values.yaml"}, nil, "--show-only", "templates/networkpolicy.yaml")
	var np struct {
		Spec struct {
			PolicyTypes []string `yaml:"policyTypes"`
			Ingress     []struct {
				Ports []struct{ Port string } `yaml:"ports"`
				From  []map[string]any        `yaml:"from"`
			} `yaml:"ingress"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(out), &np); err != nil {
		t.Fatalf("networkpolicy: %v\n%s", err, out)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []string{"Ingress"}) || len(np.Spec.Ingress) != 2 {
		t.Fatalf("networkpolicy rules:\n%s", out)
	}
	peers := map[string]string{}
	for _, rule := range np.Spec.Ingress {
		if len(rule.Ports) != 1 {
			t.Fatalf("a rule covers %d ports, want one each:\n%s", len(rule.Ports), out)
		}
		b, _ := json.Marshal(rule.From)
		peers[rule.Ports[0].Port] = string(b)
	}
	if want := `[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}}]`; peers["external"] != want {
		t.Errorf("external port peers = %s, want %s", peers["external"], want)
	}
	if want := `[{"podSelector":{}},{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"voice"}}}]`; peers["internal"] != want {
		t.Errorf("internal port peers = %s, want %s", peers["internal"], want)
	}

	for _, path := range []string{"/", "/genesys/", "/genesys/1/service/callback", "/metrics", "/debug/pprof/"} {
		_, errOut, err := runErr(chartDir(t), helm, "template", releaseName, ".", "--namespace", namespace,
			"-f", "ci/guide-sample-values.yaml", "--set", "ges.ingress.ingressint.enabled=true", "--set", "ges.ingress.ingressint.paths[0]="+path)
		if err == nil || !strings.Contains(errOut, "must not be routed from outside") {
			t.Errorf("ingress path %s: err %v, stderr %s; want a refusal", path, err, errOut)
		}
	}
}
