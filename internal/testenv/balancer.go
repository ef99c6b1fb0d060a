package testenv

import (
	"bytes"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Balancer is the service URL of the GES nodes, as a Kubernetes Service
// gives ORS one address for all pods: a round-robin reverse proxy in the test
// process that skips a node refusing connections (stopped, killed,
// draining), so a report reaches any live node.
type Balancer struct {
	URL string // http://127.0.0.1:PORT

	mu       sync.Mutex
	backends []string // base URLs
	next     int
}

// StartBalancer starts an empty balancer; Add gives it backends. It stops
// when the test ends.
func StartBalancer(t testing.TB) *Balancer {
	t.Helper()
	b := &Balancer{}
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.Out.URL.Host = "balancer" },
		Transport: balancerTransport{b: b, tr: &http.Transport{DisableKeepAlives: true, Proxy: nil}},
		// Like a dead pod behind a Service, a backend lost mid-request (or
		// no backend at all) shows as a broken connection, never as an
		// HTTP answer the client would take as the service's decision.
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) },
	}
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(FreePort(t)))
		if err != nil {
			if attempt < 3 {
				continue
			}
			t.Fatalf("testenv: balancer: %v", err)
		}
		srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardLog}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
		b.URL = "http://" + l.Addr().String()
		return b
	}
}

// discardLog silences the proxy server's log of aborted requests.
var discardLog = log.New(io.Discard, "", 0)

// Add makes the node at baseURL (http://host:port) one of the backends.
func (b *Balancer) Add(baseURL string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, baseURL)
}

// order returns the backends starting at the next one in turn.
func (b *Balancer) order() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.backends)
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, b.backends[(b.next+i)%n])
	}
	if n > 0 {
		b.next = (b.next + 1) % n
	}
	return out
}

// balancerTransport sends a request to the first backend that accepts the
// connection. Only a refused connection moves on to the next: a request
// that reached a node may have been acted on and is not sent twice.
type balancerTransport struct {
	b  *Balancer
	tr *http.Transport
}

func (bt balancerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	err := errors.New("no backend")
	for _, base := range bt.b.order() {
		u, perr := url.Parse(base)
		if perr != nil {
			return nil, perr
		}
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host, out.Host = u.Scheme, u.Host, u.Host
		out.Body = io.NopCloser(bytes.NewReader(body))
		var resp *http.Response
		resp, err = bt.tr.RoundTrip(out)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			return resp, err
		}
	}
	return nil, err
}
