package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	stopTimeout = 10 * time.Second
	tailLines   = 200
)

// Proc is a child process whose stdout and stderr go to a log file.
type Proc struct {
	Cmd     *exec.Cmd
	Name    string
	LogPath string

	stopSignal syscall.Signal
	done       chan struct{}
	err        error       // exit status; valid once done is closed
	expected   atomic.Bool // the exit was asked for (Stop, Kill, Wait)
	reported   atomic.Bool // the log tail was already printed
}

// StartProc starts cmd with its stdout and stderr redirected to NAME.log in a
// fresh t.TempDir(). When the test ends the process is stopped (SIGTERM, then
// SIGKILL after 10 s); if the test failed, the last 200 log lines are logged.
// The test also fails if the process exited with an error that nobody asked
// for (call Wait, Stop or Kill for intended exits), or if its log reports a
// data race.
func StartProc(t testing.TB, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	p, err := startProc(name, cmd, filepath.Join(t.TempDir(), name+".log"), syscall.SIGTERM)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { p.finish(t) })
	return p
}

func startProc(name string, cmd *exec.Cmd, logPath string, stopSignal syscall.Signal) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setProcAttr(cmd.SysProcAttr)
	err = cmd.Start()
	_ = f.Close() // the child holds its own descriptor
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Cmd: cmd, Name: name, LogPath: logPath, stopSignal: stopSignal, done: make(chan struct{})}
	registry.add(p)
	go func() {
		p.err = cmd.Wait()
		registry.remove(p)
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns the exit error (nil for a clean exit) once the process has exited.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Wait waits up to timeout for the process to exit on its own and returns its
// exit error. Waiting marks the exit as intended.
func (p *Proc) Wait(timeout time.Duration) error {
	p.expected.Store(true)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %s", p.Name, timeout)
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error {
	if p.Exited() {
		return nil
	}
	return p.Cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to the process and its process group and waits for it.
func (p *Proc) Kill() {
	p.expected.Store(true)
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// Stop asks the process to shut down (SIGTERM), waits up to 10 s, then kills it.
func (p *Proc) Stop() {
	p.expected.Store(true)
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(p.stopSignal)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.Kill()
	}
}

// Logs returns everything the process has written so far.
func (p *Proc) Logs() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Tail returns the last n lines of the log.
func (p *Proc) Tail(n int) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	// Debug logs can be large; the tail is in the last megabyte.
	const window = 1 << 20
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		_, _ = f.Seek(fi.Size()-window, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// describe is a one-line account of what the process is doing, for messages.
func (p *Proc) describe() string {
	if !p.Exited() {
		return "running"
	}
	if p.err == nil {
		return "exited with status 0"
	}
	return p.err.Error()
}

// logTail formats the tail of the log for a failure message and records that
// it was shown, so the cleanup does not print it a second time.
func (p *Proc) logTail() string {
	p.reported.Store(true)
	return fmt.Sprintf("--- last %d lines of %s (%s) ---\n%s", tailLines, p.Name, p.LogPath, p.Tail(tailLines))
}

// addrInUse reports whether the process died because its port was taken, the
// one start-up failure worth retrying with other ports.
func (p *Proc) addrInUse() bool {
	return p.Exited() && strings.Contains(strings.ToLower(p.Logs()), "address already in use")
}

func (p *Proc) finish(t testing.TB) {
	exitedOnItsOwn := p.Exited() && !p.expected.Load() && p.err != nil
	p.Stop()
	if exitedOnItsOwn {
		t.Errorf("testenv: %s exited unexpectedly: %v", p.Name, p.err)
	}
	if bytes.Contains([]byte(p.Logs()), []byte("WARNING: DATA RACE")) {
		t.Errorf("testenv: %s reported a data race (full log: %s)", p.Name, p.LogPath)
	}
	if t.Failed() && !p.reported.Load() {
		t.Log(p.logTail())
	}
}

// waitHTTP polls url every 100 ms until it answers 200, the process exits, or
// timeout passes.
func waitHTTP(url string, p *Proc, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		if p.Exited() {
			return fmt.Errorf("%s %s before answering %s", p.Name, p.describe(), url)
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: GET %s: %s", p.Name, timeout, url, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// registry tracks running children so that an interrupted test binary can
// kill them before it exits.
var registry = &procRegistry{procs: map[*Proc]struct{}{}}

type procRegistry struct {
	mu    sync.Mutex
	procs map[*Proc]struct{}
}

func (r *procRegistry) add(p *Proc) {
	r.mu.Lock()
	r.procs[p] = struct{}{}
	r.mu.Unlock()
}

func (r *procRegistry) remove(p *Proc) {
	r.mu.Lock()
	delete(r.procs, p)
	r.mu.Unlock()
}

func (r *procRegistry) killAll() {
	r.mu.Lock()
	procs := make([]*Proc, 0, len(r.procs))
	for p := range r.procs {
		procs = append(procs, p)
	}
	r.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
}

// minimalEnv is the environment children start from: PATH and HOME only, so
// nothing from the developer's shell (REDIS_HOST, PGHOST, proxies...) leaks in.
func minimalEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return append(env, extra...)
}
