package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/record"
	"github.com/gesgo/ges/internal/testenv"
)

// ceilings measures what this machine's Redis and Postgres give at most,
// on the servers of this run: redis-benchmark against GES' Redis, pgbench
// inserting callback rows into copies of the callbacks tables. The GES node
// is stopped first so that it takes nothing from them.
func ceilings(t *testing.T, s *section) {
	st := benchStack(t, nil)
	st.Nodes[0].Proc.Stop() // the schema is migrated; the node is not needed
	redisCeilings(t, s, st)
	pgCeilings(t, s, st)
}

// redisScript is a small read-modify-write script, the shape of GES' state
// changes.
const redisScript = `local v = redis.call('GET', KEYS[1]) redis.call('SET', KEYS[1], ARGV[1]) return v`

func redisCeilings(t *testing.T, s *section, st *testenv.Stack) {
	bin := findTool(t, "redis-benchmark", "redis-tools")
	if bin == "" {
		for _, k := range []string{"set", "get", "evalsha", "set_p16", "get_p16", "evalsha_p16"} {
			s.text("redis."+k, "redis-benchmark "+k, "unavailable", nil, "")
		}
		s.note("redis-benchmark not found and could not be installed (apt-get install -y redis-tools)")
		return
	}
	rdb := redisClient(t, st.Redis.Addr)
	sha, err := rdb.ScriptLoad(context.Background(), redisScript).Result()
	if err != nil {
		s.fatalf(t, "SCRIPT LOAD: %v", err)
	}
	const clients = 50
	for _, p := range []struct {
		pipeline, n int
		suffix      string
	}{{1, 100_000, ""}, {16, 400_000, "_p16"}} {
		base := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(st.Redis.Port), "-c", strconv.Itoa(clients),
			"-n", strconv.Itoa(p.n), "-r", "100000", "-P", strconv.Itoa(p.pipeline), "--csv"}
		rows := redisBenchmark(t, s, bin, append(base, "-t", "set,get"))
		evalRows := redisBenchmark(t, s, bin, append(base, "evalsha", sha, "1", "bench:__rand_int__", "v"))
		label := fmt.Sprintf("%d clients", clients)
		if p.pipeline > 1 {
			label += fmt.Sprintf(", pipeline %d", p.pipeline)
		}
		for _, name := range []string{"SET", "GET"} {
			r, ok := rows[name]
			if !ok {
				s.fatalf(t, "redis-benchmark printed no %s row", name)
			}
			s.add("redis."+strings.ToLower(name)+p.suffix+".rps", "redis-benchmark "+name+", "+label, r.rps, "/s", nil)
		}
		if len(evalRows) != 1 {
			s.fatalf(t, "redis-benchmark evalsha printed %d rows", len(evalRows))
		}
		for _, r := range evalRows {
			s.add("redis.evalsha"+p.suffix+".rps", "redis-benchmark EVALSHA (GET+SET script), "+label, r.rps, "/s", nil)
		}
	}
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		s.fatalf(t, "FLUSHALL: %v", err)
	}
}

type benchRow struct{ rps, p99 float64 }

// redisBenchmark runs redis-benchmark with --csv and returns its rows by
// test name.
func redisBenchmark(t *testing.T, s *section, bin string, args []string) map[string]benchRow {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		s.fatalf(t, "redis-benchmark %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		s.fatalf(t, "redis-benchmark output: %v\n%s", err, out)
	}
	rows := map[string]benchRow{}
	for _, rec := range recs {
		if len(rec) < 2 || rec[0] == "test" {
			continue
		}
		rps, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			s.fatalf(t, "redis-benchmark row %q: %v", rec, err)
		}
		r := benchRow{rps: rps}
		if len(rec) >= 7 {
			r.p99, _ = strconv.ParseFloat(rec[6], 64)
		}
		rows[rec[0]] = r
	}
	return rows
}

var (
	pgbenchTPS     = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	pgbenchLatency = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

// pgCeilings runs pgbench with a script that inserts one callback row and
// its history row per transaction, into tables made LIKE the product's
// (same columns, indexes and constraints).
func pgCeilings(t *testing.T, s *section, st *testenv.Stack) {
	bin := findPgbench(t)
	if bin == "" {
		for _, c := range []int{16, 64} {
			s.text(fmt.Sprintf("pgbench.c%d.tps", c), fmt.Sprintf("pgbench callback insert, %d clients", c), "unavailable", nil, "")
		}
		s.note("pgbench not found and could not be installed (apt-get install -y postgresql-contrib)")
		return
	}
	ctx := context.Background()
	pg := pgConn(t, st)
	if _, err := pg.Exec(ctx, `CREATE TABLE bench_callbacks (LIKE callbacks INCLUDING ALL);
CREATE TABLE bench_callback_events (LIKE callback_events INCLUDING ALL);
CREATE TABLE bench_header (header jsonb NOT NULL)`); err != nil {
		s.fatalf(t, "creating the pgbench tables: %v", err)
	}
	now := time.Now().UTC()
	cb := &callback.Callback{ID: "00000000-0000-4000-8000-000000000000", Tenant: testenv.DemoContactCenterID, Service: service,
		Phone: "+15550000000", State: callback.Scheduled, Desired: now.Add(24 * time.Hour), Scheduled: true, Created: now, Updated: now,
		Expires: now.Add(48 * time.Hour), EWT: -1, Rev: 1, Props: map[string]string{"_cb_offer_type": "SCHEDULED"}}
	// The header is JSON, whose colons pgbench would take for variables:
	// the script reads it from a one-row table.
	if _, err := pg.Exec(ctx, `INSERT INTO bench_header VALUES ($1)`, string(record.Encode(cb))); err != nil {
		s.fatalf(t, "bench_header: %v", err)
	}
	script := fmt.Sprintf(`\set n random(1, 1000000000)
WITH c AS (
  INSERT INTO bench_callbacks (id, ccid, service, phone, state, desired_time, created_at, updated_at, retain_until, rev, header)
  VALUES (gen_random_uuid(), '%[1]s', '%[2]s', '+1' || :n, 'SCHEDULED', now() + interval '1 day', now(), now(), now() + interval '15 days', 1, (SELECT header FROM bench_header))
  RETURNING id, ccid
)
INSERT INTO bench_callback_events (callback_id, rev, ccid, at, state, source) SELECT id, 1, ccid, now(), 'SCHEDULED', 'api' FROM c;
`, testenv.DemoContactCenterID, service)
	path := filepath.Join(t.TempDir(), "insert.sql")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, clients := range []int{16, 64} {
		if _, err := pg.Exec(ctx, `TRUNCATE bench_callbacks, bench_callback_events`); err != nil {
			s.fatalf(t, "TRUNCATE: %v", err)
		}
		tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		cmd := exec.CommandContext(tctx, bin, "-h", st.PG.Host, "-p", strconv.Itoa(st.PG.Port), "-U", st.PG.User,
			"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2", "-T", "10", "-f", path, st.DBName)
		cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			s.fatalf(t, "pgbench -c %d: %v\n%s", clients, err, out)
		}
		tps := pgbenchTPS.FindSubmatch(out)
		lat := pgbenchLatency.FindSubmatch(out)
		if tps == nil || lat == nil {
			s.fatalf(t, "pgbench -c %d: no tps or latency in its output:\n%s", clients, out)
		}
		v, _ := strconv.ParseFloat(string(tps[1]), 64)
		l, _ := strconv.ParseFloat(string(lat[1]), 64)
		s.add(fmt.Sprintf("pgbench.c%d.tps", clients), fmt.Sprintf("pgbench callback insert, %d clients", clients), v, "/s", nil)
		s.add(fmt.Sprintf("pgbench.c%d.latency_ms", clients), fmt.Sprintf("pgbench latency average, %d clients", clients), l, "ms", nil)
	}
	s.note("pgbench: one transaction = one callbacks row (with a real record header) and one callback_events row, into tables LIKE the product's; 10 s per run, 2 threads; redis-benchmark: 100,000 random keys, 3-byte values")
}

// findTool returns the path of a command, installing its Debian package
// when it is missing and the harness runs as root; "" when unavailable.
func findTool(t *testing.T, name, pkg string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if !aptInstall(t, pkg) {
		return ""
	}
	p, _ := exec.LookPath(name)
	return p
}

// findPgbench looks where the PostgreSQL server binaries are (Debian keeps
// them off PATH), then on PATH.
func findPgbench(t *testing.T) string {
	look := func() string {
		var dirs []string
		if d := os.Getenv("PG_BINDIR"); d != "" {
			dirs = append(dirs, d)
		}
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Slice(found, func(i, j int) bool { return pgVersion(found[i]) > pgVersion(found[j]) })
		for _, d := range append(dirs, found...) {
			if p := filepath.Join(d, "pgbench"); isFile(p) {
				return p
			}
		}
		p, _ := exec.LookPath("pgbench")
		return p
	}
	if p := look(); p != "" {
		return p
	}
	if !aptInstall(t, "postgresql-contrib") {
		return ""
	}
	return look()
}

func pgVersion(bindir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bindir)), 64)
	return v
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// aptInstall installs a Debian package (as root only), updating the
// package lists once if the first attempt fails.
func aptInstall(t *testing.T, pkg string) bool {
	if os.Geteuid() != 0 {
		return false
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return false
	}
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return err
	}
	t.Logf("installing %s", pkg)
	if run("install", "-y", pkg) == nil {
		return true
	}
	return run("update") == nil && run("install", "-y", pkg) == nil
}
