package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Consul is a private Consul agent in dev mode.
type Consul struct {
	Addr string // host:port of the HTTP API
	Proc *Proc
}

// consulBinary finds the agent: on PATH, or where scripts/consul-build.sh
// puts it.
func consulBinary() string {
	if p, err := exec.LookPath("consul"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "ges-tools", "bin", "consul")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// StartConsul starts `consul agent -dev` on free loopback ports. Without a
// consul binary the test is skipped, except in CI (CI=true), where it fails.
func StartConsul(t testing.TB) *Consul {
	t.Helper()
	bin := consulBinary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("testenv: no consul binary (run scripts/consul-build.sh)")
		}
		t.Skip("no consul binary; scripts/consul-build.sh builds one")
	}
	port := func() string { return strconv.Itoa(FreePort(t)) }
	http, dns, lan, wan, server, grpc := port(), port(), port(), port(), port(), port()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"ports":{"http":%s,"dns":%s,"serf_lan":%s,"serf_wan":%s,"server":%s,"grpc":%s},"bind_addr":"127.0.0.1","client_addr":"127.0.0.1","disable_update_check":true}`,
		http, dns, lan, wan, server, grpc)
	if err := os.WriteFile(filepath.Join(dir, "ports.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "agent", "-dev", "-config-file", filepath.Join(dir, "ports.json"), "-log-level", "warn")
	cmd.Env = minimalEnv()
	c := &Consul{Addr: "127.0.0.1:" + http, Proc: StartProc(t, "consul", cmd)}
	if err := waitHTTP("http://"+c.Addr+"/v1/status/leader", c.Proc, 30*time.Second); err != nil {
		t.Fatalf("testenv: consul: %v\n%s", err, c.Proc.logTail())
	}
	return c
}
