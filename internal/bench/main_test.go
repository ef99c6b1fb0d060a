// Package bench measures GES on the real binaries (ges, gessim) with real
// Redis and PostgreSQL, and prints what it measured beside the targets:
//
//	make bench                       # every section, about 15 minutes
//	BENCH=burst,idle make bench      # some sections only
//
// TestReport runs only with GES_BENCH=1, so that make test stays fast. Each
// section starts a stack of its own. A section fails when it cannot
// measure; a missed target is printed as MISS and fails nothing. The
// report is also written as JSON (BENCH_JSON, default .run/bench/last.json)
// for comparison between runs. The Benchmark functions are single
// measurements for go test -bench.
package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// raceBuild is set when the tests, and so the binaries, run with -race.
var raceBuild bool

// sections run in this order; the create section compares itself with the
// Postgres ceiling measured by the ceilings section of the same run.
var sections = []struct {
	name string
	run  func(t *testing.T, s *section)
}{
	{"ceilings", ceilings},
	{"create", creates},
	{"burst", burst},
	{"burst_ors", burstORS},
	{"immediate", immediate},
	{"immediate_ors", immediateORS},
	{"commands", commandsPerLife},
	{"reports", commandsPerReport},
	{"idle", idle},
	{"storage", storage},
	{"restore", restore},
	{"rss", rss},
}

// TestReport runs the sections named in $BENCH (all by default) and prints
// the table and the JSON file.
func TestReport(t *testing.T) {
	if os.Getenv("GES_BENCH") != "1" {
		t.Skip("set GES_BENCH=1 (make bench) to run the benchmark report")
	}
	chosen, err := choose(os.Getenv("BENCH"))
	if err != nil {
		t.Fatal(err)
	}
	r := newReport(testenv.ModuleRoot(t))
	if raceBuild {
		r.note("built with -race: the binaries are race-instrumented and the numbers are not representative")
	}
	for _, sec := range sections {
		if !chosen[sec.name] {
			continue
		}
		s := r.section(sec.name)
		ok := t.Run(sec.name, func(t *testing.T) { sec.run(t, s) })
		s.finish(ok)
		t.Logf("%s: %s in %s", sec.name, s.status(), s.took().Round(time.Second))
	}
	r.print(os.Stdout)
	path := jsonPath(testenv.ModuleRoot(t))
	if err := r.writeJSON(path); err != nil {
		t.Errorf("writing %s: %v", path, err)
		return
	}
	t.Logf("JSON report: %s", path)
}

// choose parses $BENCH: a comma list of section names, empty for all.
func choose(list string) (map[string]bool, error) {
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
	}
	chosen := map[string]bool{}
	if strings.TrimSpace(list) == "" {
		for _, n := range names {
			chosen[n] = true
		}
		return chosen, nil
	}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(names, n) {
			return nil, &unknownSection{n, names}
		}
		chosen[n] = true
	}
	return chosen, nil
}

type unknownSection struct {
	name  string
	valid []string
}

func (e *unknownSection) Error() string {
	return "BENCH: unknown section " + e.name + " (sections: " + strings.Join(e.valid, ",") + ")"
}

// jsonPath is $BENCH_JSON, relative to the module root unless absolute.
func jsonPath(root string) string {
	p := os.Getenv("BENCH_JSON")
	if p == "" {
		p = filepath.Join(".run", "bench", "last.json")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	return p
}
