package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestFreePort(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	busy := 0
	for range 20 {
		p := FreePort(t)
		if p <= 0 || p > 65535 {
			t.Fatalf("port %d out of range", p)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		// Programs that do not take part in the reservation may still grab
		// a port now and then (which is why servers retry); most must be free.
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Logf("port %d taken right after FreePort: %v", p, err)
			busy++
			continue
		}
		_ = l.Close()
	}
	if busy > 2 {
		t.Fatalf("%d of 20 ports from FreePort were not bindable", busy)
	}
}

func TestStartRedis(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	if r.Port == 6379 || r.Addr != "127.0.0.1:"+strconv.Itoa(r.Port) {
		t.Fatalf("unexpected address %q", r.Addr)
	}
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	if got, err := c.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	r.Stop()
	if _, err := ping(r.Addr); err == nil {
		t.Fatal("PING succeeded after Stop")
	}

	r.Restart()
	if got, err := c.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING after Restart = %q, %v", got, err)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("restarted Redis is not empty: EXISTS k = %d, %v", n, err)
	}
}

func TestSharedPostgres(t *testing.T) {
	t.Parallel()
	pg := SharedPostgres(t)
	if pg2 := SharedPostgres(t); pg2 != pg {
		t.Fatal("SharedPostgres returned two clusters")
	}
	if pg.Port == 5432 || pg.Host != "127.0.0.1" || pg.User != "ges" {
		t.Fatalf("unexpected cluster %+v", pg)
	}
	a, b := pg.NewDatabase(t), pg.NewDatabase(t)
	if a == b {
		t.Fatalf("NewDatabase returned %q twice", a)
	}
	ctx := context.Background()
	for _, db := range []string{a, b} {
		conn, err := pgx.Connect(ctx, pg.ConnString(db))
		if err != nil {
			t.Fatalf("connect %s: %v", db, err)
		}
		var got string
		var super bool
		err = conn.QueryRow(ctx, "SELECT current_database(), usesuper FROM pg_user WHERE usename = current_user").Scan(&got, &super)
		_ = conn.Close(ctx)
		if err != nil || got != db || !super {
			t.Fatalf("in %s: current_database() = %q, superuser %v, %v", db, got, super, err)
		}
	}
}

func TestNewDatabaseDroppedAfterTest(t *testing.T) {
	t.Parallel()
	pg := SharedPostgres(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		name = pg.NewDatabase(t)
		// An open connection must not prevent the drop.
		conn, err := pgx.Connect(context.Background(), pg.ConnString(name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
	})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s still exists after its test ended", name)
	}
}

func TestProcStopLogsAndTail(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sh", "-c", `for i in 1 2 3; do echo line$i; done; echo err >&2
trap 'echo bye; exit 0' TERM
while :; do sleep 0.05; done`)
	p := StartProc(t, "sh", cmd)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Logs(), "err") {
		if time.Now().After(deadline) {
			t.Fatalf("logs = %q", p.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.Tail(2); got != "line3\nerr" {
		t.Fatalf("Tail(2) = %q", got)
	}
	p.Stop()
	if !p.Exited() || !strings.Contains(p.Logs(), "bye") {
		t.Fatalf("Stop did not deliver SIGTERM: exited %v, logs %q", p.Exited(), p.Logs())
	}

	k := StartProc(t, "sleeper", exec.Command("sleep", "60"))
	k.Kill()
	if !k.Exited() {
		t.Fatal("Kill returned before the process exited")
	}
}

func TestFixtureFormat(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(DefaultFixture())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"contactCenters"`, `"apiKeys"`, `"tables"`, `"CALLBACK_SETTINGS"`,
		`"columns"`, `"clients"`, `"secret"`, `"ors"`, `"streamName"`, `"consumerGroup"`,
		`"queuedMs"`, `"routingMs"`, `"processingMs"`, `"failureRate"`, `"failureReason"`, `"seed"`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("fixture JSON lacks %s: %s", key, b)
		}
	}
	f := DefaultFixture()
	demo, other := f.ContactCenter("Demo"), f.ContactCenter("Other")
	if demo == nil || other == nil || demo.ID == other.ID || demo.APIKeys[0] != DemoAPIKey || other.APIKeys[0] != OtherAPIKey {
		t.Fatalf("unexpected tenants: %+v", f.ContactCenters)
	}
	if tz := demo.Service("Callback_Support").Columns["Time Zone"]; tz != "America/New_York" {
		t.Fatalf("Callback_Support time zone = %q", tz)
	}
	c := f.Clone()
	c.ContactCenter("Demo").SetSetting("Callback_Sales", "Time Zone", "Asia/Tokyo")
	c.ContactCenter("Demo").SetSetting("Callback_New", "Time Zone", "UTC")
	if demo.Service("Callback_Sales").Columns["Time Zone"] != "UTC" || demo.Service("Callback_New") != nil {
		t.Fatal("Clone shares state with the original")
	}
	if c.ContactCenter("Demo").Service("Callback_New") == nil {
		t.Fatal("SetSetting did not add the service")
	}
}

// The demo fixture of make run must stay loadable into the same structure.
func TestDemoFixtureMatchesFormat(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(ModuleRoot(t), "deploy", "gessim", "demo-fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f Fixture
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("demo fixture does not match the Fixture type: %v", err)
	}
	demo := f.ContactCenter("Demo")
	if demo == nil || len(demo.APIKeys) == 0 || demo.APIKeys[0] != DemoAPIKey || demo.Service("Callback_Sales") == nil {
		t.Fatalf("demo fixture lacks the Demo tenant, its key or Callback_Sales: %+v", f)
	}
}

func TestBinaries(t *testing.T) {
	root := ModuleRoot(t)
	for _, cmd := range []string{"ges", "gessim"} {
		if !hasMainPackage(filepath.Join(root, "cmd", cmd)) {
			t.Skipf("cmd/%s has no main package yet", cmd)
		}
	}
	ges, gessim := Binaries(t)
	for _, p := range []string{ges, gessim} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("%s is not an executable: %v", p, err)
		}
	}
}

func hasMainPackage(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err == nil && af.Name.Name == "main" {
			return true
		}
	}
	return false
}
