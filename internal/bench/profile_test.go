package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// The bench stack's DevOps user, who may read the node's profiles.
const (
	profileUser     = "bench"
	profilePassword = "bench-pw"
)

// profiling is a CPU profile of a node being taken over a span of a
// section (/debug/pprof/profile on the internal port, as an operator
// would take it).
type profiling struct {
	label string
	done  chan profileResult
}

type profileResult struct {
	data []byte
	err  error
}

// startProfile asks node n for a CPU profile of the next d.
func startProfile(n *testenv.Node, label string, d time.Duration) *profiling {
	p := &profiling{label: label, done: make(chan profileResult, 1)}
	go func() {
		c, err := n.DevOpsClient(profileUser, profilePassword)
		if err != nil {
			p.done <- profileResult{err: err}
			return
		}
		secs := max(int(d.Round(time.Second)/time.Second), 1)
		c.Timeout = d + 30*time.Second
		resp, err := c.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", n.InternalURL, secs))
		if err != nil {
			p.done <- profileResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("/debug/pprof/profile: %d %.200s", resp.StatusCode, b)
		}
		p.done <- profileResult{data: b, err: err}
	}()
	return p
}

// profileTop is how many functions the notes name for a profile.
const profileTop = 8

// finish waits for the profile, keeps it beside the JSON report
// (go tool pprof reads it) and notes its top costs: the functions with the
// most CPU of their own, and GES' own functions by cumulative CPU. A
// profile that cannot be taken is noted, never a failure of the section.
func (p *profiling) finish(t testing.TB, s *section) {
	t.Helper()
	r := <-p.done
	if r.err != nil {
		s.note("CPU profile (%s) not taken: %v", p.label, r.err)
		return
	}
	path := filepath.Join(filepath.Dir(jsonPath(testenv.ModuleRoot(t))), s.Name+"-"+p.label+".pprof")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		err = os.WriteFile(path, r.data, 0o644)
		if err != nil {
			t.Logf("keeping the profile: %v", err)
		}
	}
	flat, err := pprofTop(path, false, "")
	if err != nil {
		s.note("CPU profile (%s) kept in %s, not read: %v", p.label, path, err)
		return
	}
	own, _ := pprofTop(path, true, "gesgo/ges/")
	s.note("CPU profile of the node (%s, %s): top by own CPU: %s; GES functions by cumulative CPU: %s", p.label, path, strings.Join(flat, "; "), strings.Join(own, "; "))
}

// pprofTop lists the top functions of a profile as "name flat%" or, with
// cum, "name cum%", keeping only the names that contain focus.
func pprofTop(path string, cum bool, focus string) ([]string, error) {
	args := []string{"tool", "pprof", "-top", "-nodecount=60"}
	if cum {
		args = append(args, "-cum")
	}
	out, err := exec.Command("go", append(args, path)...).Output()
	if err != nil {
		return nil, err
	}
	var top []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() && len(top) < profileTop {
		// flat flat% sum% cum cum% name
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") || !strings.Contains(f[5], ".") {
			continue
		}
		name := strings.Join(f[5:], " ")
		// Closures (middleware, goroutines) repeat their parents' cost.
		if !strings.Contains(name, focus) || (focus != "" && (strings.Contains(name, "-fm") || strings.Contains(name, ".func"))) {
			continue
		}
		share := f[1]
		if cum {
			share = f[4]
		}
		top = append(top, strings.TrimPrefix(name, "github.com/gesgo/ges/internal/")+" "+share)
	}
	return top, sc.Err()
}
