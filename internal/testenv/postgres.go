package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a private PostgreSQL cluster (trust authentication, superuser
// User) on a loopback port.
type Postgres struct {
	Host string
	Port int
	User string

	proc        *Proc
	seq         atomic.Int64
	releasePort func()

	mu       sync.Mutex // serialises Stop and Start
	bindir   string
	base     string // holds data/, sock/ and the server logs
	env      []string
	cred     *syscall.Credential
	launches int
}

// LogSize is the size of the server's current log: pass it to LogSince
// to read what the server logged from then on.
func (p *Postgres) LogSize() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	fi, err := os.Stat(p.proc.LogPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LogSince is what the server logged after offset (see LogSize).
func (p *Postgres) LogSince(offset int64) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, err := os.ReadFile(p.proc.LogPath)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}

var sharedPG struct {
	once sync.Once
	pg   *Postgres
	err  error
}

// SharedPostgres returns the cluster shared by all tests of this test binary,
// creating it on first use. Tests isolate themselves with NewDatabase. The
// cluster is stopped by Main, which the package's TestMain must call.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	if !mainActive.Load() {
		t.Fatal("testenv: SharedPostgres needs the package hook: func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }")
	}
	sharedPG.once.Do(func() { sharedPG.pg, sharedPG.err = startPostgres() })
	if sharedPG.err != nil {
		t.Fatalf("testenv: starting PostgreSQL: %v", sharedPG.err)
	}
	return sharedPG.pg
}

// ConnString returns a pgx/libpq URL for database db.
func (p *Postgres) ConnString(db string) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", p.User, p.Host, p.Port, db)
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// NewDatabase creates an empty database with a name unique in the cluster and
// drops it (forcibly, even with open connections) when the test ends.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	base := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	name := fmt.Sprintf("t%d_%s", p.seq.Add(1), base)
	ident := pgx.Identifier{name}.Sanitize()
	if err := p.admin("CREATE DATABASE " + ident); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := p.admin("DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return name
}

// admin runs one statement in the maintenance database.
func (p *Postgres) admin(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.ConnString("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func startPostgres() (*Postgres, error) {
	bindir, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	sess, err := sessionDir()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(sess, "pg")
	sock := filepath.Join(base, "sock")
	data := filepath.Join(base, "data")
	if err := os.MkdirAll(sock, 0o700); err != nil {
		return nil, err
	}

	// PostgreSQL refuses to run as root: as root, run it as the postgres
	// account, which must own the directories it writes.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres OS user (apt-get install -y postgresql): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, d := range []string{base, sock} {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	env := minimalEnv("LC_ALL=C", "TZ=UTC")

	initdb := exec.Command(filepath.Join(bindir, "initdb"),
		"-D", data, "-A", "trust", "-U", "ges", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir, initdb.Env = base, env
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}

	pg := &Postgres{Host: "127.0.0.1", User: "ges", bindir: bindir, base: base, env: env, cred: cred}
	for attempt := 1; ; attempt++ {
		port, release, err := reservePort()
		if err != nil {
			return nil, err
		}
		// The reservation must stay reachable: a collected lock file is
		// closed by its finalizer, which would free the port for others.
		pg.releasePort = release
		pg.Port = port
		err = pg.launch()
		if err == nil {
			return pg, nil
		}
		if attempt < 3 && pg.proc != nil && pg.proc.addrInUse() {
			continue
		}
		return nil, err
	}
}

// launch starts the server on pg.Port with the cluster's data directory and
// waits until it accepts connections.
func (p *Postgres) launch() error {
	p.launches++
	cmd := exec.Command(filepath.Join(p.bindir, "postgres"),
		"-D", filepath.Join(p.base, "data"),
		"-p", strconv.Itoa(p.Port),
		"-h", "127.0.0.1",
		"-k", filepath.Join(p.base, "sock"),
		// A throwaway cluster needs no crash safety; these make
		// schema set-up and writes several times faster.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		// Parallel tests, each with several GES nodes and their pools.
		"-c", "max_connections=400",
	)
	cmd.Dir, cmd.Env = p.base, p.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	// SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for
	// every client to disconnect.
	var err error
	p.proc, err = startProc("postgres", cmd, filepath.Join(p.base, fmt.Sprintf("postgres-%d.log", p.launches)), syscall.SIGINT)
	if err != nil {
		return err
	}
	if err := p.waitReady(30 * time.Second); err != nil {
		p.proc.Stop()
		return fmt.Errorf("%v\n%s", err, p.proc.logTail())
	}
	return nil
}

// Stop shuts the server down (fast shutdown: clients are disconnected) and
// keeps its data directory and port, so Start brings the same databases
// back. The cluster is shared by the test binary: only a package whose tests
// expect the outage may use it.
func (p *Postgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proc.Stop()
}

// Start starts a stopped server again on the same port and waits until it
// accepts connections; it does nothing if the server is running.
func (p *Postgres) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.proc.Exited() {
		return nil
	}
	return p.launch()
}

func (p *Postgres) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.proc.Exited() {
			return fmt.Errorf("postgres %s during start-up", p.proc.describe())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.ConnString("postgres"))
		if err == nil {
			err = conn.Ping(ctx)
			_ = conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not accepting connections after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pgBinDir finds the directory holding initdb and postgres: $PG_BINDIR, else
// the newest /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH),
// else PATH.
func pgBinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var found []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			found = append(found, d)
		}
	}
	if len(found) > 0 {
		version := func(d string) float64 {
			v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
			return v
		}
		sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
		return found[0], nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("initdb not found: install PostgreSQL (apt-get install -y postgresql), run .ci/run, or set PG_BINDIR")
}
