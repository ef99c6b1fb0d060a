package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a private redis-server on a loopback port, without persistence
// unless started with StartRedisWith.
type Redis struct {
	Addr string // 127.0.0.1:PORT
	Port int
	Proc *Proc // the current process; replaced by Restart

	t    testing.TB
	bin  string
	dir  string
	args []string // extra server arguments (cluster mode)
	opts RedisOptions
}

// StartRedis starts a private redis-server for the test and stops it when the
// test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return StartRedisWith(t, RedisOptions{})
}

// StartRedisWith is StartRedis with persistence settings.
func StartRedisWith(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: redisServerBin(t), dir: t.TempDir(), opts: o}
	for attempt := 1; ; attempt++ {
		r.Port = FreePort(t)
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
		err := r.start()
		if err == nil {
			return r
		}
		if attempt < 3 && r.Proc != nil && r.Proc.addrInUse() {
			r.Proc.Stop()
			continue
		}
		r.fail(err)
	}
}

// Stop shuts the server down. Without persistence its data is gone; Restart
// brings up an empty server on the same port.
func (r *Redis) Stop() { r.Proc.Stop() }

// Kill kills the server with SIGKILL, as a crash would.
func (r *Redis) Kill() { r.Proc.Kill() }

// Restart stops the server if it is running and starts it again on the
// same port and data directory: empty, unless Snapshot or the persistence
// options left a dump.rdb or an append-only file there, which it loads.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Proc.Stop()
	if err := r.start(); err != nil {
		r.fail(err)
	}
}

func (r *Redis) start() error {
	cmd := exec.Command(r.bin,
		"--port", strconv.Itoa(r.Port),
		"--bind", "127.0.0.1",
		"--save", r.opts.Save,
		"--appendonly", r.opts.appendOnly(),
		"--dir", r.dir,
		"--daemonize", "no",
		"--logfile", "",
	)
	cmd.Args = append(cmd.Args, r.args...)
	cmd.Dir = r.dir
	cmd.Env = minimalEnv()
	r.Proc = StartProc(r.t, "redis-"+strconv.Itoa(r.Port), cmd)
	return waitRedis(r.Addr, r.Proc, 15*time.Second)
}

func (r *Redis) fail(err error) {
	r.t.Helper()
	msg := fmt.Sprintf("testenv: redis-server on %s: %v", r.Addr, err)
	if r.Proc != nil {
		r.Proc.Stop()
		msg += "\n" + r.Proc.logTail()
	}
	r.t.Fatal(msg)
}

// waitRedis sends PING until the server answers PONG.
func waitRedis(addr string, p *Proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		if p.Exited() {
			return fmt.Errorf("%s %s before answering PING", p.Name, p.describe())
		}
		reply, err := ping(addr)
		if err == nil && reply == "+PONG" {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = reply
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG after %s: %s", timeout, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func ping(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func redisServerBin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server"
	}
	t.Fatal("testenv: redis-server not found: install it (apt-get install -y redis-server) or run .ci/run")
	return ""
}
