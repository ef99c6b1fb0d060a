package opstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// parseExposition reads a /metrics body (text format 0.0.4).
func parseExposition(body string) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSampleLine(line)
		if err != nil {
			return nil, fmt.Errorf("/metrics line %d %q: %w", n, line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseSampleLine(line string) (sample, error) {
	s := sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " ,")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.IndexByte(line, '=')
			if eq <= 0 || len(line) < eq+2 || line[eq+1] != '"' {
				return s, fmt.Errorf("bad label near %q", line)
			}
			name := strings.TrimSpace(line[:eq])
			line = line[eq+2:]
			var v strings.Builder
			closed := false
			for j := 0; j < len(line); j++ {
				c := line[j]
				if c == '\\' && j+1 < len(line) {
					j++
					switch line[j] {
					case 'n':
						v.WriteByte('\n')
					default:
						v.WriteByte(line[j])
					}
					continue
				}
				if c == '"' {
					line, closed = line[j+1:], true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value")
			}
			s.Labels[name] = v.String()
		}
	}
	fields := strings.Fields(line)
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("want a value and an optional timestamp")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, err
	}
	s.Value = v
	return s, nil
}

// find returns the value of the first sample with that name and labels (a
// subset match), and whether there was one.
func find(samples []sample, name string, labels map[string]string) (float64, bool) {
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		ok := true
		for k, v := range labels {
			if s.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return s.Value, true
		}
	}
	return 0, false
}

// seriesID is a series in promtool's notation: name{a="b",...}, labels sorted.
func seriesID(name string, labels map[string]string) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(labels[k])
		fmt.Fprintf(&b, "%s=\"%s\"", k, v)
	}
	b.WriteByte('}')
	return b.String()
}

// timeline collects input series for promtool, one value per step of the
// test's interval: phases of scrapes are laid one after the other.
type timeline struct {
	steps  int
	series map[string][]string // seriesID -> value per step ("_" = no sample)
}

func newTimeline() *timeline { return &timeline{series: map[string][]string{}} }

// phase appends steps steps during which every given sample keeps its value.
// Series that have no sample in this phase have none at those steps, as when
// a counter has not appeared yet. NaN and infinite samples are left out
// (no rule reads them).
func (tl *timeline) phase(steps int, samples []sample) {
	seen := map[string]bool{}
	for _, s := range samples {
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			continue
		}
		id := seriesID(s.Name, s.Labels)
		if seen[id] {
			continue
		}
		seen[id] = true
		vals, ok := tl.series[id]
		if !ok {
			vals = slices.Repeat([]string{"_"}, tl.steps)
		}
		v := strconv.FormatFloat(s.Value, 'g', -1, 64)
		tl.series[id] = append(vals, slices.Repeat([]string{v}, steps)...)
	}
	tl.steps += steps
	for id, vals := range tl.series {
		if len(vals) < tl.steps {
			tl.series[id] = append(vals, slices.Repeat([]string{"_"}, tl.steps-len(vals))...)
		}
	}
}

// set gives a series explicit values, in promtool's expanding notation
// ("0x9 1x10"), for series a test writes by hand.
func (tl *timeline) set(name string, labels map[string]string, values string) {
	tl.series[seriesID(name, labels)] = []string{values}
}

// inputSeries renders the series for the test file, runs of equal values
// compressed to promtool's "vxN" form (v, then N more times v; but "_xN" is
// N missing samples).
func (tl *timeline) inputSeries() []map[string]string {
	var out []map[string]string
	for _, id := range slices.Sorted(maps.Keys(tl.series)) {
		vals := tl.series[id]
		var parts []string
		for i := 0; i < len(vals); {
			j := i
			for j+1 < len(vals) && vals[j+1] == vals[i] {
				j++
			}
			switch {
			case j > i && vals[i] == "_":
				parts = append(parts, fmt.Sprintf("_x%d", j-i+1)) // "_xN" is N gaps
			case j > i:
				parts = append(parts, fmt.Sprintf("%sx%d", vals[i], j-i)) // "vxN" is v and N more
			default:
				parts = append(parts, vals[i])
			}
			i = j + 1
		}
		out = append(out, map[string]string{"series": id, "values": strings.Join(parts, " ")})
	}
	return out
}

// expAlert is an alert promtool must see: the labels of the expression's
// result; rule labels and annotations are added from the rule itself.
type expAlert map[string]string

type alertCase struct {
	At     string // eval_time, e.g. "25m"
	Alert  string
	Firing []expAlert // nil or empty: the alert must not be firing
}

// promtoolTest runs `promtool test rules` on the rule file with the series
// and cases, in simulated time (interval 1m, rules evaluated every minute).
func promtoolTest(t *testing.T, promtool, ruleFile string, tl *timeline, cases []alertCase) {
	t.Helper()
	rules := rulesByName(parseAlertRules(t, ruleFile))
	var tests []map[string]any
	for _, c := range cases {
		r, ok := rules[c.Alert]
		if !ok {
			t.Fatalf("case for unknown alert %s", c.Alert)
		}
		exp := []map[string]any{}
		for _, a := range c.Firing {
			labels := maps.Clone(map[string]string(a))
			maps.Copy(labels, r.Labels)
			ann := map[string]string{}
			for k, v := range r.Annotations {
				ann[k] = expandAnnotation(t, v, a)
			}
			exp = append(exp, map[string]any{"exp_labels": labels, "exp_annotations": ann})
		}
		tests = append(tests, map[string]any{"eval_time": c.At, "alertname": c.Alert, "exp_alerts": exp})
	}
	// JSON is YAML, so the test file needs no YAML writer.
	file := map[string]any{
		"rule_files":          []string{"rules.yml"},
		"evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval":        "1m",
			"input_series":    tl.inputSeries(),
			"alert_rule_test": tests,
		}},
	}
	dir := t.TempDir()
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(ruleFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runErr(dir, promtool, "test", "rules", "alerts_test.yml")
	if err != nil {
		keep := filepath.Join(os.TempDir(), "opstest-"+strings.ReplaceAll(t.Name(), "/", "_"))
		_ = os.RemoveAll(keep)
		_ = os.CopyFS(keep, os.DirFS(dir))
		t.Fatalf("promtool test rules: %v (files kept in %s)\n%s%s", err, keep, out, errOut)
	}
}
