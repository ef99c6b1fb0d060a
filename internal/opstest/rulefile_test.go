package opstest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// alertRule is one alerting rule of the chart, as far as the tests need it.
type alertRule struct {
	Alert       string
	Expr        string
	For         string
	Labels      map[string]string
	Annotations map[string]string
}

// parseAlertRules reads the alerting rules of a rule file in the layout
// templates/prometheusrule.yaml writes (one key per line, scalar values), so
// the tests need no YAML library. Anything it does not understand inside a
// rule fails the test, so a change of layout cannot go unnoticed.
func parseAlertRules(t *testing.T, text string) []alertRule {
	t.Helper()
	var rules []alertRule
	var cur *alertRule
	ruleIndent, section := -1, ""
	for n, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if strings.HasPrefix(trimmed, "- alert:") {
			rules = append(rules, alertRule{Alert: yamlScalar(t, strings.TrimPrefix(trimmed, "- alert:")),
				Labels: map[string]string{}, Annotations: map[string]string{}})
			cur, ruleIndent, section = &rules[len(rules)-1], indent, ""
			continue
		}
		if cur == nil || indent <= ruleIndent {
			cur, section = nil, ""
			continue
		}
		key, value, ok := strings.Cut(trimmed, ":")
		if !ok {
			t.Fatalf("rule file line %d: %q is not key: value", n+1, line)
		}
		value = strings.TrimSpace(value)
		if indent == ruleIndent+2 {
			section = ""
			switch key {
			case "expr":
				cur.Expr = yamlScalar(t, value)
			case "for":
				cur.For = yamlScalar(t, value)
			case "labels", "annotations":
				if value != "" {
					t.Fatalf("rule file line %d: %s must be a block", n+1, key)
				}
				section = key
			default:
				t.Fatalf("rule file line %d: unknown rule key %q", n+1, key)
			}
			continue
		}
		switch section {
		case "labels":
			cur.Labels[key] = yamlScalar(t, value)
		case "annotations":
			cur.Annotations[key] = yamlScalar(t, value)
		default:
			t.Fatalf("rule file line %d: %q outside labels/annotations (multi-line values are not supported)", n+1, line)
		}
	}
	return rules
}

// yamlScalar decodes a one-line YAML scalar: plain, 'single' or "double" quoted.
func yamlScalar(t *testing.T, s string) string {
	t.Helper()
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, `"`):
		v, err := strconv.Unquote(s)
		if err != nil {
			t.Fatalf("bad double-quoted scalar %s: %v", s, err)
		}
		return v
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			t.Fatalf("bad single-quoted scalar %s", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	case s == "|" || s == "|-" || s == ">" || s == ">-":
		t.Fatalf("block scalars are not supported in rule files: %s", s)
	}
	return s
}

func rulesByName(rules []alertRule) map[string]alertRule {
	m := map[string]alertRule{}
	for _, r := range rules {
		m[r.Alert] = r
	}
	return m
}

var labelRef = regexp.MustCompile(`\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

// expandAnnotation fills in {{ $labels.x }} the way Prometheus does for an
// alert with those labels. Other template syntax is refused: the expected
// alerts of the tests would not be exact otherwise.
func expandAnnotation(t *testing.T, tmpl string, labels map[string]string) string {
	t.Helper()
	out := labelRef.ReplaceAllStringFunc(tmpl, func(m string) string {
		return labels[labelRef.FindStringSubmatch(m)[1]]
	})
	if strings.Contains(out, "{{") {
		t.Fatalf("annotation %q uses template syntax the test cannot expand", tmpl)
	}
	return out
}
