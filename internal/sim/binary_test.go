package sim_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/sim/ors"
	"github.com/gesgo/ges/internal/sim/simtest"
)

// buildGessim compiles the real command, as the integration harness runs it.
func buildGessim(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	bin := filepath.Join(t.TempDir(), "gessim")
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/gesgo/ges/cmd/gessim").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestGessimBinaryServes(t *testing.T) {
	bin := buildGessim(t)
	redisAddr := simtest.StartRedis(t)
	ges := simtest.NewFakeGES(t)
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", simtest.FreePort(t)) }
	admin := addr()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "--fixture", simtest.WriteFixture(t, simtest.DemoFixture),
		"--voice-redis", redisAddr, "--auth-addr", addr(), "--env-addr", addr(), "--ors-addr", addr(),
		"--admin-addr", admin, "--publish-to", ges.URL)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	waitFor(t, "gessim health", func() bool {
		resp, err := client.Get("http://" + admin + "/sim/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	waitFor(t, "start-up publish", func() bool { return len(ges.Tables()) == 1 })

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	simtest.XAddCallback(t, rdb, simtest.Callback{CCID: simtest.DemoCCID, CallbackID: "cb-bin",
		ServiceName: "Callback_Sales", UpdateURL: ges.URL + "/genesys/1/service/callback/Callback_Sales/cb-bin"})
	var entries []ors.Record
	waitFor(t, "session end", func() bool {
		getJSON(t, "http://"+admin+"/sim/ors/entries", &entries)
		return len(entries) == 1 && entries[0].Outcome == "completed:AGENT_CONNECTED"
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("gessim exited with %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("gessim did not stop on SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"gessim stopped"`) {
		t.Fatalf("no JSON stop log on stderr:\n%s", stderr.String())
	}
}

func TestGessimPublish(t *testing.T) {
	bin := buildGessim(t)
	ges := simtest.NewFakeGES(t)
	fx := simtest.WriteFixture(t, simtest.DemoFixture)
	out, err := exec.Command(bin, "publish", "--fixture", fx, "--ges", ges.URL, "--ccid", simtest.DemoCCID).Output()
	if err != nil || strings.TrimSpace(string(out)) != `{"table":"accepted"}` {
		t.Fatalf("publish: %v, stdout %q", err, out)
	}
	if tb := ges.Tables(); len(tb) != 1 || tb[0].ContactCenterID != simtest.DemoCCID {
		t.Fatalf("tables = %+v", tb)
	}
	refusing := simtest.NewFakeGES(t)
	refusing.Close() // nothing listens: publish must fail
	if err := exec.Command(bin, "publish", "--fixture", fx, "--ges", refusing.URL).Run(); err == nil {
		t.Fatal("publish to a dead GES succeeded")
	}
	if err := exec.Command(bin, "publish", "--fixture", fx).Run(); err == nil {
		t.Fatal("publish without --ges succeeded")
	}
	_ = os.Remove(bin)
}
