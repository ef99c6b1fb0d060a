package faulttest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

var chaosFlag = flag.Bool("chaos", false, "run the full fault-injection suite (same as GES_CHAOS=full)")

func TestMain(m *testing.M) {
	flag.Parse()
	// The observers keep dialling a Redis that is down on purpose; the
	// client's log of every failed dial would bury the results.
	redis.SetLogger(quietLog{})
	code := testenv.Main(m)
	printSummary()
	os.Exit(code)
}

type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}

// profile sizes a run: load, timings and which faults it includes.
type profile struct {
	name     string
	rate     int           // creates per second, over all nodes
	load     time.Duration // how long the generator runs
	faultAt  time.Duration // when the fault starts, from the start of the load
	aheadMin time.Duration // scheduled callbacks are wanted this far ahead...
	aheadMax time.Duration // ...up to this
	outage   map[string]time.Duration
	faults   []string
	// settle is how long past the last due time every acknowledged
	// callback has to become final before it counts as stranded.
	settle time.Duration
}

// reportTimeout is the nodes' MONITOR_REPORT_TIMEOUT_SECONDS: short, so
// that a silent ORS session is noticed within a run.
const reportTimeout = 10 * time.Second

func shortProfile() profile {
	return profile{
		name: "short", rate: 25, load: 16 * time.Second, faultAt: 4 * time.Second,
		aheadMin: 3 * time.Second, aheadMax: 12 * time.Second,
		outage: map[string]time.Duration{
			"node-kill": 5 * time.Second, "redis-snapshot": 5 * time.Second, "voice-redis-down": 10 * time.Second,
			"postgres-down": 10 * time.Second, "ors-frozen": 10 * time.Second,
		},
		faults: []string{"node-kill", "redis-flushall", "redis-snapshot", "postgres-down"},
		settle: 2*reportTimeout + 10*time.Second,
	}
}

func fullProfile() profile {
	return profile{
		name: "full", rate: 120, load: 80 * time.Second, faultAt: 10 * time.Second,
		aheadMin: 5 * time.Second, aheadMax: 45 * time.Second,
		outage: map[string]time.Duration{
			"node-kill": 15 * time.Second, "redis-snapshot": 20 * time.Second, "voice-redis-down": 60 * time.Second,
			"postgres-down": 30 * time.Second, "ors-frozen": 60 * time.Second,
		},
		faults: []string{"node-kill", "redis-flushall", "redis-snapshot", "voice-redis-down",
			"postgres-down", "ors-frozen", "rolling-sigterm"},
		settle: 3*reportTimeout + 30*time.Second,
	}
}

// currentProfile is the full profile with -chaos or GES_CHAOS=full, else
// the short one. GES_CHAOS_FAULTS (comma-separated names) replaces the
// profile's list of faults, e.g. to try one fault at the short length.
func currentProfile() profile {
	p := shortProfile()
	if *chaosFlag || strings.EqualFold(os.Getenv("GES_CHAOS"), "full") {
		p = fullProfile()
	}
	if list := os.Getenv("GES_CHAOS_FAULTS"); list != "" {
		p.faults = strings.Split(list, ",")
	}
	return p
}

// The summary repeats every fault's line after the run, as one table.
var summary struct {
	mu    sync.Mutex
	lines []string
}

func addSummary(line string) {
	summary.mu.Lock()
	summary.lines = append(summary.lines, line)
	summary.mu.Unlock()
}

func printSummary() {
	summary.mu.Lock()
	defer summary.mu.Unlock()
	if len(summary.lines) == 0 {
		return
	}
	fmt.Printf("\nfault-injection summary (%s):\n", currentProfile().name)
	for _, l := range summary.lines {
		fmt.Println(l)
	}
}
