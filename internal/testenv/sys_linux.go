package testenv

import "syscall"

// setProcAttr puts a child in its own process group (so a Ctrl-C aimed at
// `go test` does not tear servers down in random order, and Kill can reach the
// whole group) and asks the kernel to SIGKILL it if the test binary dies
// without running its cleanups (panic, -timeout, SIGKILL).
func setProcAttr(a *syscall.SysProcAttr) {
	a.Setpgid = true
	a.Pdeathsig = syscall.SIGKILL
}
