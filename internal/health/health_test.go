package health

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

type manualClock struct{ now time.Time }

func (c *manualClock) Now() time.Time { return c.now }

// TestActivityReplacesTheProbe: a connection that answered within the
// last interval, with no failure since, is up without a probe; an idle or
// failing one is probed.
func TestActivityReplacesTheProbe(t *testing.T) {
	clk := &manualClock{now: time.Unix(1000, 0)}
	var probes atomic.Int32
	probeErr := error(nil)
	act := &Activity{}
	c := &Checker{Interval: 10 * time.Second, Timeout: time.Second, Clock: clk,
		Components: []Component{{Name: "redis", Required: true, Activity: act,
			Check: func(context.Context) error { probes.Add(1); return probeErr }}}}
	check := func(what string, wantProbes int32, wantReady bool) {
		t.Helper()
		probes.Store(0)
		c.CheckNow(context.Background())
		if got := probes.Load(); got != wantProbes {
			t.Fatalf("%s: %d probes, want %d", what, got, wantProbes)
		}
		if c.Ready() != wantReady {
			t.Fatalf("%s: ready %v, want %v", what, c.Ready(), wantReady)
		}
	}
	check("never answered", 1, true)
	act.Answered(clk.now)
	clk.now = clk.now.Add(9 * time.Second)
	check("answered 9 s ago", 0, true)
	clk.now = clk.now.Add(time.Second)
	check("answered an interval ago", 1, true)
	act.Answered(clk.now)
	act.Failed(clk.now.Add(time.Millisecond))
	clk.now = clk.now.Add(2 * time.Millisecond)
	probeErr = errors.New("connection refused")
	check("failed since the answer", 1, false)
	act.Answered(clk.now)
	probeErr = nil
	check("answered again", 0, true)
}
