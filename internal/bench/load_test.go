package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/config"
	"github.com/gesgo/ges/internal/testenv"
)

// service is the callback service every section books on.
const service = "Callback_Sales"

// benchStack starts one GES node with the product's timings (the harness
// shortens them for tests), warnings-only logs and gessim's ORS answering
// without pauses, on a service with room for every section: no capacity,
// rate or per-number limit gets in the way. env is applied last.
func benchStack(t testing.TB, env map[string]string) *testenv.Stack {
	t.Helper()
	return newBenchStack(t, env, true, nil)
}

// newBenchStack is benchStack; without product, the node keeps the
// harness's short intervals; tweak (nil: none) changes the fixture.
func newBenchStack(t testing.TB, env map[string]string, product bool, tweak func(*testenv.Fixture)) *testenv.Stack {
	t.Helper()
	fx := testenv.DefaultFixture()
	fx.ORS.QueuedMs, fx.ORS.RoutingMs, fx.ORS.ProcessingMs = 0, 0, 0
	cc := fx.ContactCenter("Demo")
	for col, v := range map[string]string{
		"Capacity":                         "1000000",
		"Throttle Callbacks Per Service 1": "0",
		"Throttle Callbacks Per Service 2": "0",
		"Max Callbacks Per Phone Number":   "0",
		"Max Queued Callbacks Per Service": "0",
		"Throttle Customer Number Limit":   "0",
		"Scheduling Horizon (days)":        "7",
	} {
		cc.SetSetting(service, col, v)
	}
	// The bench measures GES' own ceilings: the per-node create limits of
	// the external API are off.
	base := map[string]string{"LOG_LEVEL": "WARN", "API_CREATE_RATE_TENANT": "0", "API_CREATE_RATE_KEY": "0",
		"UI_DEVOPS_USERNAME": profileUser, "UI_DEVOPS_PASSWORD": profilePassword}
	if product {
		for k := range productTimings() {
			base[k] = "" // an empty value is the product's default
		}
	}
	maps.Copy(base, env)
	if tweak != nil {
		tweak(fx)
	}
	return testenv.NewStack(t, testenv.StackOptions{Fixture: fx, Env: base})
}

// productTimings returns the product's interval settings (every *_SECONDS
// one) with their defaults, as its configuration reports them.
func productTimings() map[string]any {
	out := map[string]any{"DISCOVERY_INTERVAL_SECONDS": "default", "HEALTH_INTERVAL_SECONDS": "default",
		"MONITOR_LEASE_SECONDS": "default", "MONITOR_REPORT_TIMEOUT_SECONDS": "default"}
	env := map[string]string{"REDIS_HOST": "r", "DB_HOST": "d", "DB_NAME": "n", "DB_USER": "u", "VMCS_REDIS_HOST": "v",
		"GWS_AUTH_URL": "http://a", "GWS_ENV_URL": "http://e"}
	c, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return out
	}
	for k, v := range c.Redacted() {
		if strings.HasSuffix(k, "_SECONDS") {
			out[k] = v
		}
	}
	out["DISCOVERY_INTERVAL_SECONDS"] = c.Platform.DiscoveryIntervalSeconds
	return out
}

// describeTimings lists productTimings for notes.
func describeTimings() string {
	m := productTimings()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// spec is what a booking asks for.
type spec struct {
	desired  time.Time // zero: an immediate callback
	userData int       // bytes of user data; 0: none
}

// booking is one create as the client saw it.
type booking struct {
	start, end time.Time
	id         string
	status     int
	err        string
}

func (b booking) ok() bool        { return b.err == "" && b.status == http.StatusOK && b.id != "" }
func (b booking) ms() float64     { return float64(b.end.Sub(b.start).Microseconds()) / 1000 }
func (b booking) endMS() int64    { return b.end.UnixMilli() }
func (b booking) startMS() int64  { return b.start.UnixMilli() }
func wireTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
func dayAhead() time.Time         { return time.Now().Add(24 * time.Hour) }
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return math.Inf(1)
	}
	return float64(n) / d.Seconds()
}

// creator books callbacks through the external API of one node over a
// pool of keep-alive connections, as an API gateway would.
type creator struct {
	url   string
	hc    *http.Client
	phone atomic.Int64
}

func newCreator(n *testenv.Node, conns int) *creator {
	tr := &http.Transport{Proxy: nil, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	return &creator{url: n.ExternalURL + "/engagement/v3/callbacks/create",
		hc: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}

func (c *creator) close() { c.hc.CloseIdleConnections() }

func (c *creator) book(sp spec) booking {
	i := c.phone.Add(1)
	body := map[string]any{"serviceName": service, "phoneNumber": fmt.Sprintf("+1555%07d", i%10_000_000)}
	if !sp.desired.IsZero() {
		body["desiredTime"] = wireTime(sp.desired)
	}
	if sp.userData > 0 {
		body["userData"] = userData(sp.userData)
	}
	raw, _ := json.Marshal(body)
	var b booking
	b.start = time.Now()
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(raw))
	if err != nil {
		b.err = err.Error()
		return b
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", testenv.DemoAPIKey)
	resp, err := c.hc.Do(req)
	if err != nil {
		b.end, b.err = time.Now(), err.Error()
		return b
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.end, b.status = time.Now(), resp.StatusCode
	if err != nil {
		b.err = err.Error()
		return b
	}
	var env struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(out, &env)
	b.id = env.Data.ID
	if b.status != http.StatusOK {
		b.err = fmt.Sprintf("status %d: %.200s", b.status, out)
	}
	return b
}

// closed runs conns clients, each booking one callback after the other,
// until n are booked (n <= 0: no count) or the deadline passes (zero: none).
func (c *creator) closed(conns, n int, until time.Time, sp spec) []booking {
	var next atomic.Int64
	var mu sync.Mutex
	var all []booking
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			var mine []booking
			for {
				if n > 0 && next.Add(1) > int64(n) {
					break
				}
				if !until.IsZero() && time.Now().After(until) {
					break
				}
				mine = append(mine, c.book(sp))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(all, func(i, j int) bool { return all[i].start.Before(all[j].start) })
	return all
}

// paced books rate×d callbacks at rate per second, at most maxInFlight at
// a time: a GES slower than the rate lowers the rate instead of piling up
// requests. It stops sending after 2×d.
func (c *creator) paced(rate int, d time.Duration, maxInFlight int, sp spec) []booking {
	total := int(float64(rate) * d.Seconds())
	out := make([]booking, total)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range total {
		if time.Since(start) > 2*d {
			out = out[:i]
			break
		}
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i] = c.book(sp)
		})
	}
	wg.Wait()
	return out
}

// succeeded returns the successful bookings; the section fails when more
// than 1% failed (or all did).
func succeeded(t testing.TB, s *section, what string, bs []booking) []booking {
	t.Helper()
	var ok []booking
	var first string
	for _, b := range bs {
		if b.ok() {
			ok = append(ok, b)
		} else if first == "" {
			first = b.err
		}
	}
	failed := len(bs) - len(ok)
	if len(ok) == 0 || failed*100 > len(bs) {
		s.fatalf(t, "%s: %d of %d creates failed, first: %s", what, failed, len(bs), first)
	}
	if failed > 0 {
		t.Logf("%s: %d of %d creates failed (first: %s)", what, failed, len(bs), first)
	}
	return ok
}

// userData is n bytes (about) of user data as an API client would send:
// keys with text values, not compressible to nothing.
func userData(n int) map[string]string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
	m := map[string]string{}
	for k := 0; n > 0; k++ {
		key := fmt.Sprintf("field%02d", k)
		size := min(n-len(key)-6, 1000) // quotes, colon and comma
		if size < 1 {
			size = 1
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = letters[rand.IntN(len(letters))]
		}
		m[key] = string(b)
		n -= size + len(key) + 6
	}
	return m
}

// dist is the p50, p99 and maximum of a sample.
type dist struct{ p50, p99, max float64 }

func distOf(v []float64) dist {
	if len(v) == 0 {
		return dist{math.NaN(), math.NaN(), math.NaN()}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return dist{percentile(s, 0.50), percentile(s, 0.99), s[len(s)-1]}
}

// percentile is the nearest-rank percentile of a sorted sample.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// addDist records p50, p99 and max of a sample of milliseconds; g (may be
// nil) is the target of the p99.
func (s *section) addDist(key, metric string, d dist, g *goal) {
	s.add(key+".p50_ms", metric+" p50", d.p50, "ms", nil)
	s.add(key+".p99_ms", metric+" p99", d.p99, "ms", g)
	s.add(key+".max_ms", metric+" max", d.max, "ms", nil)
}

// streamReader reads the Voice Redis NewCallbackStream.
type streamReader struct {
	rdb  *redis.Client
	name string
}

func newStreamReader(s *testenv.Stack) *streamReader {
	return &streamReader{rdb: redis.NewClient(&redis.Options{Addr: s.Voice.Addr}), name: s.Fixture.ORS.StreamName}
}

func (r *streamReader) close() { _ = r.rdb.Close() }

// firstEntries returns, for each callback of ids that has an entry, the
// time (Unix ms) its first entry was added: the millisecond part of the
// entry id.
func (r *streamReader) firstEntries(ctx context.Context, ids map[string]bool) (map[string]int64, error) {
	out := map[string]int64{}
	start := "-"
	for {
		msgs, err := r.rdb.XRangeN(ctx, r.name, start, "+", 5000).Result()
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			id := fmt.Sprint(m.Values["callbackId"])
			if !ids[id] {
				continue
			}
			ms, err := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("stream entry id %q: %v", m.ID, err)
			}
			if prev, seen := out[id]; !seen || ms < prev {
				out[id] = ms
			}
		}
		if len(msgs) < 5000 {
			return out, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// await waits until every callback of ids has an entry, or timeout.
func (r *streamReader) await(t testing.TB, s *section, ids map[string]bool, timeout time.Duration) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var lastLen int64 = -1
	var found map[string]int64
	for {
		n, err := r.rdb.XLen(ctx, r.name).Result()
		if err != nil && err != redis.Nil {
			s.fatalf(t, "XLEN %s: %v", r.name, err)
		}
		if n >= int64(len(ids)) && n != lastLen {
			lastLen = n
			if found, err = r.firstEntries(ctx, ids); err != nil {
				s.fatalf(t, "XRANGE %s: %v", r.name, err)
			}
			if len(found) == len(ids) {
				return found
			}
		}
		if time.Now().After(deadline) {
			s.fatalf(t, "after %s only %d of %d callbacks reached %s (%d entries)", timeout, len(found), len(ids), r.name, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func idSet(bs []booking) map[string]bool {
	m := make(map[string]bool, len(bs))
	for _, b := range bs {
		m[b.id] = true
	}
	return m
}

// redisClient is one connection to a Redis server, so that the harness's
// own commands are exactly the ones it sends (no pool, no reconnects).
func redisClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1, MinIdleConns: 1, MaxIdleConns: 1, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis %s: %v", addr, err)
	}
	return c
}

// infoInt reads one integer field of INFO section.
func infoInt(ctx context.Context, rdb *redis.Client, section, field string) (int64, error) {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO %s has no %s", section, field)
}

func usedMemory(t testing.TB, rdb *redis.Client) int64 {
	t.Helper()
	n, err := infoInt(context.Background(), rdb, "memory", "used_memory")
	if err != nil {
		t.Fatalf("INFO memory: %v", err)
	}
	return n
}

// commandStats reads INFO commandstats: calls per command (subcommands as
// Redis names them, e.g. config|resetstat).
func commandStats(ctx context.Context, rdb *redis.Client) (map[string]int64, error) {
	return commandField(ctx, rdb, "calls")
}

// commandField reads one field of INFO commandstats per command: calls,
// or usec (the server's time in it).
func commandField(ctx context.Context, rdb *redis.Client, field string) (map[string]int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, l := range strings.Split(info, "\r\n") {
		rest, ok := strings.CutPrefix(l, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, _ := strings.Cut(rest, ":")
		for _, f := range strings.Split(fields, ",") {
			if v, ok := strings.CutPrefix(f, field+"="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[name] = n
			}
		}
	}
	return out, nil
}

// awaitRows waits up to a minute until every callback of ids matches cond
// (SQL on the callbacks table) in Postgres; what names the condition in
// the failure.
func awaitRows(t testing.TB, s *section, pg *pgx.Conn, what, cond string, ids []string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		if err := pg.QueryRow(context.Background(), `SELECT count(*) FROM callbacks WHERE id = ANY($1::uuid[]) AND `+cond, ids).Scan(&n); err != nil {
			s.fatalf(t, "counting %s callbacks: %v", what, err)
		}
		if n == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			s.fatalf(t, "only %d of %d callbacks %s after a minute", n, len(ids), what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pgConn connects to the stack's database.
func pgConn(t testing.TB, s *testenv.Stack) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.PG.ConnString(s.DBName))
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// metricsText scrapes /metrics of a node.
func metricsText(n *testenv.Node) (string, error) {
	r, err := testenv.Do("GET", n.InternalURL+"/metrics", nil, nil)
	if err != nil {
		return "", err
	}
	if r.Status != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %d", r.Status)
	}
	return string(r.Body), nil
}

// histogram returns the _sum and _count of a histogram without labels.
func histogram(m, name string) (sum, count float64) {
	for _, l := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(l, name+"_sum "); ok {
			sum, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
		if v, ok := strings.CutPrefix(l, name+"_count "); ok {
			count, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return sum, count
}
