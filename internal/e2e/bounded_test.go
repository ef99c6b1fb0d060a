package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gesgo/ges/internal/testenv"
)

// hostileClient keeps connections alive: 20,000 requests on fresh
// connections would exhaust the loopback's ephemeral ports.
var hostileClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, Proxy: nil}}

func randomToken(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// flood sends n requests made by mk from 8 workers and fails the test on a
// transport error or a 5xx.
func flood(t *testing.T, n int, mk func(i int) *http.Request) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				req := mk(i)
				resp, err := hostileClient.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode >= 500 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s %.80s: %v %v", req.Method, req.URL, err, resp))
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed, e.g. %s", len(failures), n, failures[0])
	}
}

// hostileRound sends count requests to made-up paths on both ports, some
// with made-up methods, and count with made-up API keys on a real route.
func hostileRound(t *testing.T, n *testenv.Node, count int) {
	t.Helper()
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "BREW", "PROPFIND"}
	flood(t, count, func(i int) *http.Request {
		base := n.ExternalURL
		if i%2 == 1 {
			base = n.InternalURL
		}
		prefix := []string{"/", "/engagement/v3/", "/engagement/v3/callbacks/", "/ges/v1/", "/genesys/1/service/"}[i%5]
		req, _ := http.NewRequest(methods[i%len(methods)], base+prefix+randomToken(24), nil)
		return req
	})
	flood(t, count, func(i int) *http.Request {
		req, _ := http.NewRequest("GET", n.ExternalURL+"/engagement/v3/callbacks/queue-status/Callback_Sales", nil)
		// Keys as long as real ones get cached (and are looked up in GWS);
		// every few is longer than any real key.
		size := 200
		if i%10 == 0 {
			size = 4000
		}
		req.Header.Set("x-api-key", randomToken(size))
		return req
	})
}

var seriesLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? `)

// seriesOf lists the series a node exports.
func seriesOf(t *testing.T, n *testenv.Node) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(metricsText(t, n), "\n") {
		if m := seriesLine.FindString(l); m != "" {
			out = append(out, strings.TrimSpace(m))
		}
	}
	slices.Sort(out)
	return out
}

// heapAfterGC is the node's live heap: the heap profile's memory
// statistics, read with ?gc=1 so that a collection runs first.
func heapAfterGC(t *testing.T, ops *http.Client, n *testenv.Node) int64 {
	t.Helper()
	var v int64
	for range 2 { // the second collection also empties sync.Pools' victim caches
		_, b := fetch(t, ops, "GET", n.InternalURL+"/debug/pprof/heap?gc=1&debug=1", nil)
		m := regexp.MustCompile(`(?m)^# HeapAlloc = (\d+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no HeapAlloc in the heap profile: %.300s", b)
		}
		v, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	return v
}

// rss is the resident size of the node's process, in bytes.
func rss(t *testing.T, n *testenv.Node) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.Proc.Pid()))
	if err != nil {
		return -1
	}
	m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb * 1024
}

// Made-up paths, methods and API keys cost GES nothing that lasts: after
// 10,000 of each the node exports the same series as before and its live
// heap is within a few MB of where it started.
//
// The bound is on the live heap after two forced collections, which does
// not depend on how busy the machine is: what requests left behind that is
// still reachable (about 0.4 MB here). 4 MB holds what bounded caches may
// legitimately keep (1,024 unknown keys of at most 256 bytes) and the
// runtime's own noise, while a cache or label set that grew per request
// exceeds it: the 10,000 keys of a round (a tenth of them 4,000 bytes long)
// are about 7 MB with their entries. Labels taken from paths are caught by
// the series count itself.
func TestHostileInputKeepsSeriesAndMemoryBounded(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Env: map[string]string{"UI_DEVOPS_USERNAME": "ops", "UI_DEVOPS_PASSWORD": "ops-pw"}})
	n := s.Nodes[0]
	ops := devopsSignIn(t, n, "ops", "ops-pw")

	// A first round creates every series such requests can make (each
	// status of each port) and warms the runtime up.
	hostileRound(t, n, 1000)
	before := seriesOf(t, n)
	heapBefore, rssBefore := heapAfterGC(t, ops, n), rss(t, n)

	hostileRound(t, n, 10000)
	after := seriesOf(t, n)
	heapAfter, rssAfter := heapAfterGC(t, ops, n), rss(t, n)

	const mb = 1 << 20
	t.Logf("series: %d before, %d after 10,000 random paths and 10,000 random API keys", len(before), len(after))
	t.Logf("live heap after GC: %.1f MB before, %.1f MB after (%+.2f MB); RSS %.1f MB before, %.1f MB after",
		float64(heapBefore)/mb, float64(heapAfter)/mb, float64(heapAfter-heapBefore)/mb, float64(rssBefore)/mb, float64(rssAfter)/mb)
	if !slices.Equal(before, after) {
		var added []string
		for _, s := range after {
			if _, found := slices.BinarySearch(before, s); !found {
				added = append(added, s)
			}
		}
		t.Errorf("the series changed: %d before, %d after; new ones include %q", len(before), len(after), added[:min(5, len(added))])
	}
	if grow := heapAfter - heapBefore; grow > 4*mb {
		t.Errorf("the live heap grew by %.1f MB (bound 4 MB)", float64(grow)/mb)
	}
}
