package faulttest

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// faults maps a fault's name to its injection. Each runs in the test's
// goroutine at the profile's fault time, while the load goes on; it returns
// when the fault has healed (or sets run.faultEnd itself).
var faults = map[string]func(*run){
	"node-kill":        killNode,
	"redis-flushall":   flushRedis,
	"redis-snapshot":   restartRedisFromSnapshot,
	"voice-redis-down": stopVoiceRedis,
	"postgres-down":    stopPostgres,
	"ors-frozen":       freezeORS,
	"rolling-sigterm":  rollingSIGTERM,
}

func TestFaults(t *testing.T) {
	p := currentProfile()
	t.Logf("%s profile: %d creates/s for %s, fault at %s", p.name, p.rate, p.load, p.faultAt)
	for _, name := range p.faults {
		inject, ok := faults[name]
		if !ok {
			t.Fatalf("unknown fault %q", name)
		}
		t.Run(name, func(t *testing.T) {
			newRun(t, name, p).execute(inject)
		})
	}
}

// killNode kills one node with SIGKILL, as a crash would, and starts it
// again after the outage: its claimed work must be taken over.
func killNode(r *run) {
	r.s.Nodes[1].Proc.Kill()
	r.sleep()
	r.s.RestartNode(r.t, 1)
}

// flushRedis empties GES' Redis at once: every live callback must come
// back from Postgres.
func flushRedis(r *run) {
	rdb := redis.NewClient(&redis.Options{Addr: r.s.Redis.Addr})
	defer rdb.Close()
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		r.t.Fatalf("FLUSHALL: %v", err)
	}
}

// restartRedisFromSnapshot snapshots GES' Redis, lets the load go on for
// the outage so the snapshot grows stale, then kills Redis and restarts it
// from that snapshot: it comes back with old revisions and without the
// callbacks created since, and must not be trusted as complete.
func restartRedisFromSnapshot(r *run) {
	if err := r.s.Redis.Snapshot(); err != nil {
		r.t.Fatalf("SAVE: %v", err)
	}
	r.sleep()
	r.faultBegin = time.Now()
	r.s.Redis.Kill()
	r.s.Redis.Restart()
}

// stopVoiceRedis takes the Voice Redis away for the outage; it comes back
// with its stream (it persists, as in a deployment).
func stopVoiceRedis(r *run) {
	r.s.Voice.Stop()
	r.sleep()
	r.s.Voice.Restart()
}

// stopPostgres stops the test binary's PostgreSQL cluster for the outage:
// creates must be refused, and nothing refused may be dialled.
func stopPostgres(r *run) {
	pg := r.s.PG
	r.t.Cleanup(func() { _ = pg.Start() }) // the databases' cleanup needs it
	pg.Stop()
	r.sleep()
	if err := pg.Start(); err != nil {
		r.t.Fatalf("restarting PostgreSQL: %v", err)
	}
}

// freezeORS stops the simulated ORS reading the stream and reporting for
// the outage: GES may resubmit, but never beside a live session.
func freezeORS(r *run) {
	pause := func(on bool) {
		resp, err := testenv.Do("POST", r.s.Sim.AdminURL+"/sim/ors/config", nil, map[string]any{"paused": on})
		if err != nil || resp.Status != 200 {
			r.t.Fatalf("pausing ORS (%v): %v %+v", on, err, resp)
		}
	}
	pause(true)
	r.sleep()
	pause(false)
}

// drainLimit is how long a node may take to exit after SIGTERM.
const drainLimit = 30 * time.Second

// drain is one node's SIGTERM: when it was sent and when the node exited.
type drain struct {
	node        int
	begin, end  time.Time
	exited      bool
	exitProblem string
}

// rollingSIGTERM stops each node in turn with SIGTERM under load, waits for
// it to exit and starts it again before the next, as a rolling update does.
// A draining node must serve or refuse at the connection level: no 5xx, no
// request cut after it was sent.
func rollingSIGTERM(r *run) {
	var drains []drain
	for i := range r.s.Nodes {
		drains = append(drains, sigterm(r, i))
		r.s.RestartNode(r.t, i)
	}
	r.checks = append(r.checks, func(reqs []request) (string, []string) { return judgeDrains(drains, reqs) })
}

func sigterm(r *run, i int) drain {
	p := r.s.Nodes[i].Proc
	d := drain{node: i, begin: time.Now()}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatalf("SIGTERM %s: %v", r.s.Nodes[i].Name, err)
	}
	err := p.Wait(drainLimit)
	d.end, d.exited = time.Now(), p.Exited()
	switch {
	case !d.exited:
		d.exitProblem = fmt.Sprintf("%s still running %s after SIGTERM", r.s.Nodes[i].Name, drainLimit)
		p.Kill()
	case err != nil:
		d.exitProblem = fmt.Sprintf("%s exited with %v after SIGTERM", r.s.Nodes[i].Name, err)
	}
	return d
}

// judgeDrains counts the answers of each draining node that were neither a
// service nor a clean refusal.
func judgeDrains(drains []drain, reqs []request) (string, []string) {
	var exits []string
	var problems []string
	bad := 0
	for _, d := range drains {
		took := fmt.Sprintf("%.1fs", d.end.Sub(d.begin).Seconds())
		if !d.exited {
			took = ">" + drainLimit.String()
		}
		exits = append(exits, took)
		if d.exitProblem != "" {
			problems = append(problems, d.exitProblem)
		}
		for _, q := range reqs {
			// Any request the node held while draining: sent before it
			// exited, answered (or cut) after the signal.
			if q.node != d.node || q.done.Before(d.begin) || q.sent.After(d.end) {
				continue
			}
			if q.status >= 500 || q.result == unknown {
				bad++
				if bad <= 5 {
					problems = append(problems, fmt.Sprintf("draining node %d answered %s: status %d %s", d.node, q.phone, q.status, q.err))
				}
			}
		}
	}
	if bad > 5 {
		problems = append(problems, fmt.Sprintf("%d answers of draining nodes were 5xx or cut", bad))
	}
	return fmt.Sprintf("drain-exits=%s drain-errors=%d", strings.Join(exits, "/"), bad), problems
}
