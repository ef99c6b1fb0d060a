//go:build unix && !linux

package testenv

import "syscall"

// setProcAttr puts a child in its own process group. Without a parent-death
// signal on this platform, children of a crashed test binary may survive it.
func setProcAttr(a *syscall.SysProcAttr) {
	a.Setpgid = true
}
