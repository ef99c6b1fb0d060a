package faulttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// Outcome of one create request, as the client saw it.
type outcome int

const (
	pending outcome = iota // no answer yet
	acked                  // 200 with an id: GES promised the callback
	refused                // any other status, or the connection refused: GES said no
	unknown                // cut or timed out after sending: the client cannot know
)

// request is one create the generator sent.
type request struct {
	phone  string
	node   int
	sent   time.Time
	done   time.Time
	due    time.Time // when it should be handed off at the latest
	status int       // 0 when no answer
	id     string
	result outcome
	err    string
}

// load sends creates at a bounded rate, round-robin over the nodes'
// external ports, and stops by itself after the profile's count and time.
type load struct {
	urls     []string
	probes   []string      // readiness URL of each node
	ready    []atomic.Bool // last readiness seen, as a Kubernetes Service follows it
	rate     int
	duration time.Duration
	aheadMin time.Duration
	aheadMax time.Duration
	client   *http.Client

	mu   sync.Mutex
	reqs []*request
	wg   sync.WaitGroup
	done chan struct{}
}

// maxInFlight bounds concurrent requests: when GES slows down the rate
// drops instead of the test process piling up goroutines.
const maxInFlight = 200

func newLoad(s *testenv.Stack, p profile) *load {
	l := &load{rate: p.rate, duration: p.load, aheadMin: p.aheadMin, aheadMax: p.aheadMax, done: make(chan struct{})}
	for _, n := range s.Nodes {
		l.urls = append(l.urls, n.ExternalURL)
		l.probes = append(l.probes, n.InternalURL+"/ges/v1/health/ready")
	}
	l.ready = make([]atomic.Bool, len(l.urls))
	for i := range l.ready {
		l.ready[i].Store(true)
	}
	// A fresh connection per request: a pooled one to a killed node would
	// fail a request that a new connection would have had refused cleanly.
	l.client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	return l
}

// start begins sending in the background; wait returns when every request
// has its answer.
func (l *load) start() {
	go l.run()
}

// follow probes readiness every 200 ms until the load ends, so requests go
// to ready nodes only, as through a Kubernetes Service: a node that drains
// turns unready first and is left alone before its ports close.
func (l *load) follow(stop <-chan struct{}) {
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		for i, u := range l.probes {
			resp, err := probe.Get(u)
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				resp.Body.Close()
			}
			l.ready[i].Store(ok)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// pick is node i's turn, moved to the next ready node when it is not.
func (l *load) pick(i int) int {
	for k := range len(l.urls) {
		if n := (i + k) % len(l.urls); l.ready[n].Load() {
			return n
		}
	}
	return i % len(l.urls)
}

func (l *load) run() {
	defer close(l.done)
	stop := make(chan struct{})
	defer close(stop)
	go l.follow(stop)
	total := l.rate * int(l.duration/time.Second)
	tick := time.NewTicker(time.Second / time.Duration(l.rate))
	defer tick.Stop()
	sem := make(chan struct{}, maxInFlight)
	end := time.Now().Add(l.duration)
	for i := 0; i < total && time.Now().Before(end); i++ {
		<-tick.C
		sem <- struct{}{}
		r, body := l.prepare(i)
		l.wg.Go(func() {
			defer func() { <-sem }()
			l.send(r, body)
		})
	}
	l.wg.Wait()
}

func (l *load) wait() { <-l.done }

// prepare records request i before it is sent, so that even a request
// whose answer never comes is accounted for. Odd requests are scheduled,
// even ones immediate.
func (l *load) prepare(i int) (*request, map[string]any) {
	r := &request{phone: fmt.Sprintf("+1555%07d", i), node: l.pick(i), sent: time.Now()}
	r.due = r.sent
	body := map[string]any{"serviceName": "Callback_Sales", "phoneNumber": r.phone}
	if i%2 == 1 {
		span := int64(l.aheadMax - l.aheadMin)
		r.due = r.sent.Add(l.aheadMin + time.Duration(rand.Int64N(span+1)))
		body["desiredTime"] = r.due.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
	return r, body
}

func (l *load) send(r *request, body map[string]any) {
	status, id, err := l.post(l.urls[r.node]+"/engagement/v3/callbacks/create", body)
	l.mu.Lock()
	defer l.mu.Unlock()
	r.done, r.status, r.id = time.Now(), status, id
	switch {
	case err == nil && status == http.StatusOK && id != "":
		r.result = acked
	case err == nil:
		r.result = refused
	case errors.Is(err, syscall.ECONNREFUSED):
		r.result, r.err = refused, "connection refused"
	default:
		r.result, r.err = unknown, err.Error()
	}
}

func (l *load) post(url string, body map[string]any) (int, string, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", testenv.DemoAPIKey)
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err // the answer was cut: no promise was read
	}
	var env struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(raw, &env)
	return resp.StatusCode, env.Data.ID, nil
}

// snapshot returns copies of the requests sent so far.
func (l *load) snapshot() []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]request, len(l.reqs))
	for i, r := range l.reqs {
		out[i] = *r
	}
	return out
}
