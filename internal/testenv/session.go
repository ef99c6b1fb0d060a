package testenv

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sessionPrefix names the per-process directory that holds everything living
// longer than one test (built binaries, the shared PostgreSQL cluster).
const sessionPrefix = "ges-testenv-run-"

var (
	// mainActive is set by Main; SharedPostgres refuses to start a cluster
	// nobody would stop.
	mainActive atomic.Bool

	session struct {
		once sync.Once
		dir  string
		lock *os.File
		err  error
	}

	shutdownOnce sync.Once
)

// Main runs the tests of a package and then stops what outlives single tests:
// the shared PostgreSQL cluster, any process still running, and the session's
// temporary directory. An interrupt (Ctrl-C, SIGTERM) runs the same teardown
// before the binary exits. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	mainActive.Store(true)

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigc
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "testenv: %v: stopping test servers\n", sig)
		shutdown()
		os.Exit(1)
	}()

	code := m.Run()
	signal.Stop(sigc)
	close(sigc)
	shutdown()
	return code
}

// shutdown stops the shared cluster gracefully, kills whatever process is
// left, and removes the session directory. It runs once.
func shutdown() {
	shutdownOnce.Do(func() {
		if pg := sharedPG.pg; pg != nil {
			pg.proc.Stop()
			pg.releasePort()
		}
		registry.killAll()
		if session.dir != "" {
			_ = os.RemoveAll(session.dir)
		}
		if session.lock != nil {
			_ = session.lock.Close()
		}
	})
}

// sessionDir returns this process's private directory, creating it on first
// use. Directories of earlier test processes that are gone (their lock is free)
// are removed first, so crashed runs do not fill the disk.
func sessionDir() (string, error) {
	session.once.Do(func() {
		parent := os.TempDir()
		removeStaleSessions(parent)
		dir, err := os.MkdirTemp(parent, sessionPrefix)
		if err != nil {
			session.err = err
			return
		}
		// Other users (the postgres account) must be able to reach their
		// own subdirectory, without being able to list ours.
		if err := os.Chmod(dir, 0o711); err != nil {
			session.err = err
			return
		}
		// The lock is taken before its final name appears, so a concurrent
		// scan never sees an unlocked lock file of a live session.
		tmp := filepath.Join(dir, ".lock.tmp")
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			session.err = err
			return
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			_ = f.Close()
			session.err = fmt.Errorf("lock %s: %w", tmp, err)
			return
		}
		if err := os.Rename(tmp, filepath.Join(dir, ".lock")); err != nil {
			_ = f.Close()
			session.err = err
			return
		}
		session.dir, session.lock = dir, f
	})
	return session.dir, session.err
}

func removeStaleSessions(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, sessionPrefix+"*"))
	for _, dir := range dirs {
		f, err := os.Open(filepath.Join(dir, ".lock"))
		if err != nil {
			// No lock yet: either a process is creating it right now, or one
			// died in the middle of doing so. Only the latter gets old.
			if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > time.Hour {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			_ = os.RemoveAll(dir)
		}
		_ = f.Close()
	}
}
