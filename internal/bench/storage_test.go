package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/record"
	"github.com/gesgo/ges/internal/testenv"
)

// callbackTables sums the size (heap, TOAST, indexes) of the tables whose
// name begins with callback: the callbacks and their history.
const callbackTables = `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint, coalesce(string_agg(c.relname, ' ' ORDER BY c.relname), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname LIKE 'callback%'`

// storage measures Redis and Postgres bytes per scheduled callback with 0,
// 1 and 10 kB of user data: the growth of Redis used_memory and of the
// callback tables over 2,000 creates each.
func storage(t *testing.T, s *section) {
	st := benchStack(t, nil)
	rdb := redisClient(t, st.Redis.Addr)
	pg := pgConn(t, st)
	ctx := context.Background()
	pgBytes := func() (int64, string) {
		var n int64
		var tables string
		if err := pg.QueryRow(ctx, callbackTables).Scan(&n, &tables); err != nil {
			s.fatalf(t, "table sizes: %v", err)
		}
		return n, tables
	}
	c := newCreator(st.Nodes[0], 16)
	defer c.close()
	time.Sleep(2 * time.Second)
	const count = 2000
	var tables string
	for _, size := range []int{0, 1000, 10_000} {
		m0 := usedMemory(t, rdb)
		p0, _ := pgBytes()
		booked := succeeded(t, s, "scheduled creates", c.closed(16, count, time.Time{}, spec{desired: dayAhead(), userData: size}))
		time.Sleep(time.Second)
		m1 := usedMemory(t, rdb)
		var p1 int64
		p1, tables = pgBytes()
		n := float64(len(booked))
		label := fmt.Sprintf("%d kB user data", size/1000)
		var g *goal
		if size == 10_000 {
			g = atMost(2048)
		}
		k := fmt.Sprintf("ud%dk", size/1000)
		s.add(k+".redis_bytes", "Redis bytes per callback, "+label, float64(m1-m0)/n, "B", g)
		s.add(k+".pg_bytes", "Postgres bytes per callback, "+label, float64(p1-p0)/n, "B", nil)
	}
	s.note("%s scheduled callbacks a day ahead per size; Redis INFO used_memory delta; Postgres pg_total_relation_size delta of %s; user data as keys of 1,000 random letters", groupThousands(strconv.Itoa(count)), tables)
}

// copyScheduled writes total scheduled callbacks (24 to 72 h ahead) into
// Postgres with COPY, behind the running node's back: only a restore
// brings them into Redis.
func copyScheduled(t testing.TB, s *section, st *testenv.Stack, total int) {
	t.Helper()
	ctx := context.Background()
	pg := pgConn(t, st)
	ccid := testenv.DemoContactCenterID
	now := time.Now().UTC()
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == total {
			return nil, nil
		}
		desired := now.Add(time.Duration(24+i%48) * time.Hour)
		cb := &callback.Callback{ID: uuid.NewString(), Tenant: ccid, Service: service, Phone: fmt.Sprintf("+1556%07d", i),
			State: callback.Scheduled, Desired: desired, Scheduled: true, Created: now, Updated: now, Expires: desired.Add(24 * time.Hour),
			EWT: -1, Rev: 1, Props: map[string]string{"_cb_offer_type": "SCHEDULED"}}
		i++
		return []any{cb.ID, ccid, cb.Service, cb.Phone, string(cb.State), cb.Desired, now, now, desired.Add(14 * 24 * time.Hour),
			int64(1), string(record.Encode(cb))}, nil
	})
	start := time.Now()
	n, err := pg.CopyFrom(ctx, pgx.Identifier{"callbacks"},
		[]string{"id", "ccid", "service", "phone", "state", "desired_time", "created_at", "updated_at", "retain_until", "rev", "header"}, src)
	if err != nil || n != int64(total) {
		s.fatalf(t, "COPY of %d callbacks: %d rows, %v", total, n, err)
	}
	t.Logf("copied %d callbacks into Postgres in %s", total, time.Since(start).Round(time.Millisecond))
}

// timeRestore flushes GES' Redis and waits until the node has restored it
// from Postgres (its hydrated mark is back). wall runs from the flush, so it
// includes the time the node takes to notice; took is the node's own
// measure from its log (0 when it did not log one).
func timeRestore(t testing.TB, s *section, st *testenv.Stack, total int) (wall, took time.Duration, keys int64) {
	t.Helper()
	ctx := context.Background()
	rdb := redisClient(t, st.Redis.Addr)
	n := st.Nodes[0]
	logFrom := len(n.Proc.Logs())
	start := time.Now()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		s.fatalf(t, "FLUSHALL: %v", err)
	}
	for {
		if ok, _ := rdb.Exists(ctx, "ges:hydrated").Result(); ok == 1 {
			break
		}
		if time.Since(start) > 5*time.Minute {
			keys, _ := rdb.DBSize(ctx).Result()
			s.fatalf(t, "the restore of %d callbacks did not finish in 5 minutes (%d keys)", total, keys)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wall = time.Since(start)
	keys, _ = rdb.DBSize(ctx).Result()
	for range 50 {
		if took = restoreLogged(n.Proc.Logs()[logFrom:]); took > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return wall, took, keys
}

// restoreLogged finds the node's "redis restored from postgres" line and
// returns its took field.
func restoreLogged(logs string) time.Duration {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), "redis restored from postgres") {
			continue
		}
		var line struct {
			Took string `json:"took"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil {
			if d, err := time.ParseDuration(line.Took); err == nil {
				return d
			}
		}
	}
	return 0
}

// reportRestore adds the rows of one timed restore.
func (s *section) reportRestore(total int, wall, took time.Duration, keys int64, g *goal) {
	what := fmt.Sprintf("restore %s callbacks", groupThousands(strconv.Itoa(total)))
	if took > 0 {
		s.add("took_s", what+" (the node's measure)", took.Seconds(), "s", g)
		g = nil
	} else {
		s.text("took_s", what+" (the node's measure)", "not logged", nil, "")
	}
	s.add("wall_s", what+": FLUSHALL until restored", wall.Seconds(), "s", g)
	s.add("rate", what+": rate from FLUSHALL", perSecond(total, wall), "/s", nil)
	s.add("keys", "Redis keys after the restore", float64(keys), "", nil)
}

// restoreStack is the stack of the restore sections: the node logs its
// restore (INFO) and keeps the harness's short check intervals, so that it
// notices the flush at once and the wall time is the restore's.
func restoreStack(t testing.TB) *testenv.Stack {
	t.Helper()
	return newBenchStack(t, map[string]string{"LOG_LEVEL": "INFO"}, false, nil)
}

// restore times the rehydration of 280,000 callbacks into an empty Redis.
func restore(t *testing.T, s *section) {
	const total = 280_000
	st := restoreStack(t)
	copyScheduled(t, s, st, total)
	wall, took, keys := timeRestore(t, s, st, total)
	s.reportRestore(total, wall, took, keys, atMost(20))
	s.note("%s scheduled callbacks written to Postgres with COPY, then GES' Redis flushed; the node keeps the test harness's 1 s check intervals, and the wall time from the flush includes noticing it", groupThousands(strconv.Itoa(total)))
}

// rss reads the resident memory of the node holding 134,400 scheduled
// callbacks: once restored into Redis, and again after a restart.
func rss(t *testing.T, s *section) {
	const total = 134_400
	st := restoreStack(t)
	copyScheduled(t, s, st, total)
	wall, took, keys := timeRestore(t, s, st, total)
	s.reportRestore(total, wall, took, keys, nil)
	n := st.Nodes[0]
	last, peak, hwm := sampleRSS(t, s, n.Proc.Pid())
	s.add("after_restore_mib", "RSS holding 134,400 scheduled, after their restore", last, "MiB", atMost(64))
	s.add("after_restore_max_mib", "  highest of the samples", peak, "MiB", nil)
	s.add("restore_hwm_mib", "  peak RSS of the node (VmHWM)", hwm, "MiB", nil)
	st.RestartNode(t, 0)
	last, peak, _ = sampleRSS(t, s, n.Proc.Pid())
	s.add("after_restart_mib", "RSS holding them, after a restart", last, "MiB", nil)
	s.add("after_restart_max_mib", "  highest of the samples", peak, "MiB", nil)
	s.note("VmRSS of the ges process read every second from 5 s to 20 s after the restore (and after a restart of the node); the last reading is compared with the target")
}

// sampleRSS waits 5 s, then reads VmRSS every second for 15 s; it returns
// the last and highest readings and VmHWM, in MiB.
func sampleRSS(t testing.TB, s *section, pid int) (last, peak, hwm float64) {
	t.Helper()
	time.Sleep(5 * time.Second)
	for i := range 16 {
		if i > 0 {
			time.Sleep(time.Second)
		}
		rss, h, err := procMemory(pid)
		if err != nil {
			s.fatalf(t, "reading /proc/%d/status: %v", pid, err)
		}
		last, peak, hwm = rss, max(peak, rss), h
	}
	return last, peak, hwm
}

// procMemory returns VmRSS and VmHWM of a process in MiB.
func procMemory(pid int) (rss, hwm float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	field := func(name string) (float64, error) {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, name+":"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				return kb / 1024, err
			}
		}
		return 0, fmt.Errorf("no %s", name)
	}
	if rss, err = field("VmRSS"); err != nil {
		return 0, 0, err
	}
	hwm, err = field("VmHWM")
	return rss, hwm, err
}

// BenchmarkRestore fills Postgres with 280,000 non-final callbacks (the
// guide's sizing of a large tenant), flushes GES' Redis and times the
// restore of the running node, from the flush until it is done; reported
// with the node's own measure of the restore.
//
//	go test -run '^$' -bench Restore -benchtime 1x ./internal/bench/
func BenchmarkRestore(b *testing.B) {
	const total = 280_000
	st := restoreStack(b)
	s := newReport(testenv.ModuleRoot(b)).section("restore")
	copyScheduled(b, s, st, total)
	b.ResetTimer()
	for range b.N {
		wall, took, _ := timeRestore(b, s, st, total)
		b.ReportMetric(wall.Seconds(), "restore_s")
		b.ReportMetric(took.Seconds(), "node_restore_s")
		b.ReportMetric(total/wall.Seconds(), "callbacks/s")
	}
}
