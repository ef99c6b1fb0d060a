package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Ports are handed out below the kernel's ephemeral range, so the source port
// of some outgoing connection can never occupy a port between the moment it
// is chosen and the moment a server binds it.
const portRangeLow = 20000

var portDir struct {
	once sync.Once
	dir  string
	err  error
}

// FreePort returns a loopback TCP port that is free now and reserved for this
// test until it ends: other callers of FreePort, in this process or in any
// other test binary running at the same time (go test runs packages in
// parallel), will not receive it.
func FreePort(t testing.TB) int {
	t.Helper()
	port, release, err := reservePort()
	if err != nil {
		t.Fatalf("testenv: no free port: %v", err)
	}
	t.Cleanup(release)
	return port
}

// reservePort picks a free port and holds an exclusive flock on a file named
// after it; the lock is what other processes respect. The kernel drops the
// lock if the process dies.
func reservePort() (int, func(), error) {
	dir, err := portLockDir()
	if err != nil {
		return 0, nil, err
	}
	lo, hi := portRange()
	for range 500 {
		port := lo + rand.IntN(hi-lo)
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDONLY, 0o666)
		if err != nil {
			return 0, nil, err
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			_ = f.Close()
			continue
		}
		if !portBindable(port) {
			_ = f.Close()
			continue
		}
		return port, func() { _ = f.Close() }, nil
	}
	return 0, nil, fmt.Errorf("no bindable port found in %d-%d", lo, hi-1)
}

func portBindable(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// portRange returns [lo, hi) between portRangeLow and the start of the
// ephemeral range, falling back to the range above it when the system has
// been configured with an unusually low ephemeral range.
func portRange() (int, int) {
	lo, hi := portRangeLow, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			eLo, err1 := strconv.Atoi(f[0])
			eHi, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil {
				switch {
				case eLo-portRangeLow >= 2000:
					hi = eLo
				case 65535-eHi >= 2000:
					lo, hi = eHi+1, 65536
				}
			}
		}
	}
	return lo, hi
}

func portLockDir() (string, error) {
	portDir.once.Do(func() {
		// One directory for every process on the machine, whatever its
		// TMPDIR, or the reservations would not see each other.
		dir := "/tmp/ges-testenv-ports"
		if fi, err := os.Stat("/tmp"); err != nil || !fi.IsDir() {
			dir = filepath.Join(os.TempDir(), "ges-testenv-ports")
		}
		if err := os.MkdirAll(dir, 0o777); err != nil {
			portDir.err = err
			return
		}
		// Shared by every user who runs the tests on this machine.
		if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm() != 0o777 {
			_ = os.Chmod(dir, 0o777|os.ModeSticky)
		}
		portDir.dir = dir
	})
	return portDir.dir, portDir.err
}
