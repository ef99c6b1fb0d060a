// Package health checks the connections GES depends on, on a fixed cycle,
// and feeds the health gauges, readiness and /ges/v1/health/detail.
package health

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gesgo/ges/internal/clock"
)

// Component is one dependency.
type Component struct {
	Name     string
	Gauge    string // health gauge fed by the check, if any
	Required bool   // readiness depends on it
	Check    func(ctx context.Context) error
	// Activity, when set, tells when the connection last got an answer:
	// one within the last interval, and no failure since, is the check,
	// and Check runs only on a connection left idle (or failing).
	Activity *Activity
}

// Activity records when a connection got answers and when it failed
// (a connection hook feeds it), so that a busy connection needs no probe
// of its own.
type Activity struct {
	answered, failed atomic.Int64 // unix ns
}

// Answered records an answer at t.
func (a *Activity) Answered(t time.Time) { a.answered.Store(t.UnixNano()) }

// Failed records a failure (no answer) at t.
func (a *Activity) Failed(t time.Time) { a.failed.Store(t.UnixNano()) }

// Fresh reports whether an answer came within the given time before now
// and no failure came after it.
func (a *Activity) Fresh(now time.Time, within time.Duration) bool {
	ok := a.answered.Load()
	return ok > 0 && ok >= a.failed.Load() && now.UnixNano()-ok < int64(within)
}

// Result is the last outcome of a component's check.
type Result struct {
	Name    string    `json:"name"`
	Status  string    `json:"status"` // UP or DOWN
	Error   string    `json:"error,omitempty"`
	Checked time.Time `json:"checked"`
}

// Checker runs the checks.
type Checker struct {
	Components []Component
	Interval   time.Duration
	Timeout    time.Duration
	// Gauge is told each gauge value (1 healthy) and the overall health.
	Gauge   func(name string, healthy bool)
	Version string
	// Clock dates the results and the uptime (nil: clock.System).
	Clock   clock.Clock
	started time.Time

	mu    sync.RWMutex
	last  map[string]Result
	done  bool
	unfit string // why the node takes no more traffic (draining, a loop failed)
}

func (c *Checker) now() time.Time {
	if c.Clock == nil {
		return clock.System{}.Now()
	}
	return c.Clock.Now()
}

// Unfit takes the node out of readiness for good: it is draining for a
// shutdown, or a background loop failed and the process is about to exit.
func (c *Checker) Unfit(why string) {
	c.mu.Lock()
	c.unfit = why
	c.mu.Unlock()
}

// Run checks every Interval until ctx ends.
func (c *Checker) Run(ctx context.Context) error {
	c.mu.Lock()
	c.started = c.now()
	c.mu.Unlock()
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		c.CheckNow(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// CheckNow runs every check once.
func (c *Checker) CheckNow(ctx context.Context) {
	res := make([]Result, len(c.Components))
	var wg sync.WaitGroup
	for i, comp := range c.Components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, c.Timeout)
			defer cancel()
			now := c.now()
			r := Result{Name: comp.Name, Status: "UP", Checked: now.UTC()}
			if comp.Activity != nil && comp.Activity.Fresh(now, c.Interval) {
				res[i] = r
				return
			}
			if err := comp.Check(cctx); err != nil {
				r.Status, r.Error = "DOWN", err.Error()
			}
			res[i] = r
		}()
	}
	wg.Wait()
	all := true
	c.mu.Lock()
	if c.last == nil {
		c.last = map[string]Result{}
	}
	for i, r := range res {
		c.last[r.Name] = r
		up := r.Status == "UP"
		all = all && up
		if g := c.Components[i].Gauge; g != "" && c.Gauge != nil {
			c.Gauge(g, up)
		}
	}
	c.done = true
	c.mu.Unlock()
	if c.Gauge != nil {
		c.Gauge("GES_HEALTH", all)
	}
}

// Ready reports whether every required component was up at the last check
// and the node is not shutting down or failed.
func (c *Checker) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.done || c.unfit != "" {
		return false
	}
	for _, comp := range c.Components {
		if comp.Required && c.last[comp.Name].Status != "UP" {
			return false
		}
	}
	return true
}

// Detail is the body of /ges/v1/health/detail.
type Detail struct {
	Status     string            `json:"status"`
	Version    string            `json:"version"`
	Uptime     string            `json:"uptime"`
	Components map[string]Result `json:"components"`
}

// Detail returns the last results.
func (c *Checker) Detail() Detail {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d := Detail{Status: "UP", Version: c.Version, Uptime: max(c.now().Sub(c.started), 0).Round(time.Second).String(), Components: map[string]Result{}}
	for k, v := range c.last {
		d.Components[k] = v
		if v.Status != "UP" {
			d.Status = "DOWN"
		}
	}
	if !c.done {
		d.Status = "DOWN"
	}
	return d
}
