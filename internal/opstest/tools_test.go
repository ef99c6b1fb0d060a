// Package opstest checks the operations side of GES: the Helm chart under
// charts/ges (lint and render with the guide's sample values), its alert
// rules (evaluated by promtool against the real /metrics of a running stack),
// and the files under deploy/ that are derived from the chart.
//
// The tests need helm and promtool on PATH (scripts/ops-tools.sh builds both).
// Without them they skip, except in CI (CI set, as .ci/run and CI runners
// do), where they fail.
package opstest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// tool returns the path of a command the test needs. A missing tool skips the
// test on a developer machine and fails it in CI, where .ci/run installs it:
// there a missing tool is a broken setup that must not pass for green.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if inCI() {
		t.Fatalf("%s is not on PATH and CI=%q; .ci/run installs it with scripts/ops-tools.sh", name, os.Getenv("CI"))
	}
	t.Skipf("%s is not on PATH (bash scripts/ops-tools.sh builds it); skipping", name)
	return ""
}

// inCI tells whether the tests run in CI. Runners set CI, mostly to "true"
// but also to "1" or their own name; only an empty value or an explicit
// false is a developer machine.
func inCI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	if v == "" {
		return false
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	return true
}

// run runs a command with a timeout and returns its standard output; a
// failure ends the test with the command's output.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	out, errOut, err := runErr(dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func runErr(dir string, name string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	// helm keeps caches and a registry config under these; a scratch home
	// keeps the test away from the user's and from other test runs.
	home, _ := os.MkdirTemp("", "opstest-home-")
	defer os.RemoveAll(home)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// chartDir is charts/ges of this checkout.
func chartDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(testenv.ModuleRoot(t), "charts", "ges")
}

// Release and namespace the tests render the chart as; deploy/prometheus uses
// the same, so its targets carry job="ges",namespace="ges".
const (
	releaseName = "ges"
	namespace   = "ges"
)

// helmTemplate renders the chart with the given values files (relative to
// the chart) and --set flags.
func helmTemplate(t *testing.T, helm string, valueFiles []string, sets []string, extra ...string) string {
	t.Helper()
	args := []string{"template", releaseName, ".", "--namespace", namespace}
	for _, f := range valueFiles {
		args = append(args, "-f", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	args = append(args, extra...)
	return run(t, chartDir(t), helm, args...)
}

// renderRules renders the PrometheusRule with the guide's sample values (and
// Prometheus switched on) and returns it as a Prometheus rule file: the
// object's spec, which holds the groups.
func renderRules(t *testing.T, helm string) string {
	t.Helper()
	out := helmTemplate(t, helm, []string{"ci/guide-sample-values.yaml"}, []string{"ges.monitoring.prometheus.enabled=true"},
		"--show-only", "templates/prometheusrule.yaml")
	return ruleFileFromPrometheusRule(t, out)
}

// ruleFileFromPrometheusRule cuts the spec out of a rendered PrometheusRule
// and moves it two columns left, which is the rule file Prometheus reads.
func ruleFileFromPrometheusRule(t *testing.T, manifest string) string {
	t.Helper()
	lines := strings.Split(manifest, "\n")
	for i, l := range lines {
		if l != "spec:" {
			continue
		}
		var b strings.Builder
		for _, r := range lines[i+1:] {
			if r == "---" {
				break
			}
			if r != "" && !strings.HasPrefix(r, "  ") {
				t.Fatalf("unexpected line in the PrometheusRule spec: %q", r)
			}
			b.WriteString(strings.TrimPrefix(r, "  "))
			b.WriteByte('\n')
		}
		return strings.TrimRight(b.String(), "\n") + "\n"
	}
	t.Fatalf("no spec in the rendered PrometheusRule:\n%s", manifest)
	return ""
}

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "false": false, "0": false, "true": true, "1": true, "TRUE": true, "woodpecker": true} {
		t.Setenv("CI", v)
		if got := inCI(); got != want {
			t.Errorf("CI=%q: inCI() = %v, want %v", v, got, want)
		}
	}
}
