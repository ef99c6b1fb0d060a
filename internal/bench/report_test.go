package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// goal is a target: the measured value must be at least (atLeast) or at
// most the limit.
type goal struct {
	atLeast bool
	limit   float64
}

func atLeast(v float64) *goal { return &goal{atLeast: true, limit: v} }
func atMost(v float64) *goal  { return &goal{limit: v} }

func (g *goal) met(v float64) bool {
	if g.atLeast {
		return v >= g.limit
	}
	return v <= g.limit
}

// row is one line of the report. Key is stable between runs, for comparing
// JSON files; Value is nil when the metric could not be measured (Text then
// says why).
type row struct {
	Section string   `json:"section"`
	Key     string   `json:"key"`
	Metric  string   `json:"metric"`
	Value   *float64 `json:"value"`
	Unit    string   `json:"unit,omitempty"`
	Text    string   `json:"text,omitempty"`
	Target  string   `json:"target,omitempty"`
	Verdict string   `json:"verdict,omitempty"` // ok or MISS, with a target
}

type report struct {
	mu       sync.Mutex
	Started  time.Time         `json:"started"`
	Machine  map[string]string `json:"machine"`
	Sections []*section        `json:"sections"`
	Rows     []row             `json:"rows"`
	Notes    []string          `json:"notes"`
}

// section is one stage of the report, given to its function.
type section struct {
	r       *report
	Name    string    `json:"name"`
	Status  string    `json:"status"` // ok or FAILED
	Start   time.Time `json:"start"`
	Seconds float64   `json:"seconds"`
	Load    string    `json:"loadavg_before"`
	Reason  string    `json:"reason,omitempty"`
}

func newReport(root string) *report {
	r := &report{Started: time.Now(), Machine: map[string]string{
		"cpus":    fmt.Sprint(runtime.NumCPU()),
		"go":      runtime.Version(),
		"os":      runtime.GOOS + "/" + runtime.GOARCH,
		"loadavg": loadAvg(),
	}}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		r.Machine["commit"] = strings.TrimSpace(string(out))
	}
	return r
}

func (r *report) section(name string) *section {
	s := &section{r: r, Name: name, Start: time.Now(), Load: loadAvg()}
	r.mu.Lock()
	r.Sections = append(r.Sections, s)
	r.mu.Unlock()
	return s
}

func (s *section) finish(ok bool) {
	s.Seconds = time.Since(s.Start).Seconds()
	s.Status = "ok"
	if !ok {
		s.Status = "FAILED"
	}
}

func (s *section) status() string      { return s.Status }
func (s *section) took() time.Duration { return time.Duration(s.Seconds * float64(time.Second)) }

// fatalf records why the section could not measure and stops it.
func (s *section) fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if s.r != nil {
		s.r.mu.Lock()
		if s.Reason == "" {
			s.Reason = msg
		}
		s.r.mu.Unlock()
	}
	t.Fatal(msg)
}

// add records a measured value, compared with g when g is not nil.
func (s *section) add(key, metric string, v float64, unit string, g *goal) {
	rw := row{Section: s.Name, Key: s.Name + "." + key, Metric: metric, Unit: unit}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		rw.Text = "n/a"
	} else {
		rw.Value = &v
	}
	if g != nil {
		rw.Target = g.text(unit)
		if rw.Value != nil {
			rw.Verdict = "MISS"
			if g.met(v) {
				rw.Verdict = "ok"
			}
		}
	}
	s.r.mu.Lock()
	s.r.Rows = append(s.r.Rows, rw)
	s.r.mu.Unlock()
}

// text records a metric that has no value, with the reason.
func (s *section) text(key, metric, text string, g *goal, unit string) {
	rw := row{Section: s.Name, Key: s.Name + "." + key, Metric: metric, Text: text}
	if g != nil {
		rw.Target = g.text(unit)
	}
	s.r.mu.Lock()
	s.r.Rows = append(s.r.Rows, rw)
	s.r.mu.Unlock()
}

// note adds a line explaining how something was measured.
func (s *section) note(format string, args ...any) {
	s.r.note("%s: "+format, append([]any{s.Name}, args...)...)
}

func (r *report) note(format string, args ...any) {
	r.mu.Lock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// value returns a value recorded earlier in the run by its full key
// (section.key).
func (r *report) value(key string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rw := range r.Rows {
		if rw.Key == key && rw.Value != nil {
			return *rw.Value, true
		}
	}
	return 0, false
}

func (g *goal) text(unit string) string {
	op := "≤"
	if g.atLeast {
		op = "≥"
	}
	return op + " " + formatValue(g.limit, unit)
}

// formatValue prints a number with as many decimals as its size deserves.
func formatValue(v float64, unit string) string {
	var s string
	a := math.Abs(v)
	switch {
	case a >= 1000:
		s = groupThousands(fmt.Sprintf("%.0f", v))
	case a >= 100:
		s = fmt.Sprintf("%.0f", v)
	case a >= 10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// print writes the table: one block per section, then the notes.
func (r *report) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, "\nGES benchmark report, %s, %s CPUs, load average %s, commit %s\n\n",
		r.Started.Format(time.RFC3339), r.Machine["cpus"], r.Machine["loadavg"], r.Machine["commit"])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tmeasured\ttarget\t")
	fmt.Fprintln(tw, "------\t--------\t------\t")
	for _, s := range r.Sections {
		head := fmt.Sprintf("[%s] %s, %.0f s, load %s", s.Name, s.Status, s.Seconds, s.Load)
		fmt.Fprintf(tw, "%s\t\t\t\n", head)
		for _, rw := range r.Rows {
			if rw.Section != s.Name {
				continue
			}
			measured := rw.Text
			if rw.Value != nil {
				measured = formatValue(*rw.Value, rw.Unit)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", rw.Metric, measured, rw.Target, rw.Verdict)
		}
		if s.Reason != "" {
			fmt.Fprintf(tw, "  could not measure: %s\t\t\t\n", s.Reason)
		}
	}
	_ = tw.Flush()
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range r.Notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
	fmt.Fprintln(w)
}

func (r *report) writeJSON(path string) error {
	r.mu.Lock()
	b, err := json.MarshalIndent(r, "", "  ")
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// loadAvg is the first three fields of /proc/loadavg: other work on this
// machine shows in every number.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
