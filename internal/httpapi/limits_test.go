package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The client address is the peer, or behind trusted proxies the right-most
// hop that is not one; IPv6 clients count by their /64.
func TestClientAddress(t *testing.T) {
	l := newLimiters(Limits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}})
	for _, tc := range []struct{ peer, xff, want string }{
		{"203.0.113.9:1234", "", "203.0.113.9"},
		{"203.0.113.9:1234", "198.51.100.1", "203.0.113.9"}, // not a proxy: its header is not read
		{"10.1.2.3:80", "198.51.100.1", "198.51.100.1"},
		{"10.1.2.3:80", "192.0.2.1, 198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"10.1.2.3:80", "garbage, 198.51.100.1", "198.51.100.1"},
		{"10.1.2.3:80", "198.51.100.1, garbage", "10.1.2.3"},
		{"10.1.2.3:80", "", "10.1.2.3"},
		{"[2001:db8:1:2:3:4:5:6]:443", "", "2001:db8:1:2::/64"},
		{"[::ffff:203.0.113.9]:1", "", "203.0.113.9"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := l.client(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

// A bucket refuses past its burst until it refills, and names its policy.
func TestBuckets(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	b := newBuckets("invalid-api-key", 5.0/60, 5)
	for range 5 {
		if _, empty := b.empty("a", now); empty {
			t.Fatal("empty before its burst")
		}
		b.spend("a", now)
	}
	d, empty := b.empty("a", now)
	if !empty || d < 11*time.Second || d > 13*time.Second {
		t.Fatalf("after the burst: empty %v, next token in %s (want 12s)", empty, d)
	}
	if _, empty := b.empty("b", now); empty {
		t.Fatal("another key shares the bucket")
	}
	if _, empty := b.empty("a", now.Add(13*time.Second)); empty {
		t.Fatal("no token after the refill")
	}
	if p := b.policy(); p != `"invalid-api-key";q=5;w=60` {
		t.Fatalf("policy %s", p)
	}
	if newBuckets("off", 0, 10) != nil {
		t.Fatal("a zero rate is a limit")
	}
}

// Without configured origins there is no CORS header at all; "*" answers
// any origin without Vary; a list echoes its own origins only.
func TestCORS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	do := func(origins []string, method, origin string) *httptest.ResponseRecorder {
		x := &external{limits: newLimiters(Limits{CORSOrigins: origins, CORSMaxAge: time.Minute})}
		r := httptest.NewRequest(method, "/engagement/v3/x", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if method == http.MethodOptions {
			r.Header.Set("Access-Control-Request-Method", "POST")
		}
		r = r.WithContext(t.Context())
		w := httptest.NewRecorder()
		x.cors(ok).ServeHTTP(w, r)
		return w
	}
	if w := do(nil, "GET", "https://a.example"); w.Header().Get("Access-Control-Allow-Origin") != "" || w.Code != 200 {
		t.Fatalf("no origins configured: %d %v", w.Code, w.Header())
	}
	if w := do([]string{"*"}, "OPTIONS", "https://a.example"); w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" ||
		w.Header().Get("Access-Control-Max-Age") != "60" || w.Header().Get("Vary") != "" {
		t.Fatalf("any origin, preflight: %d %v", w.Code, w.Header())
	}
	list := []string{"https://a.example"}
	if w := do(list, "GET", "https://A.example"); w.Header().Get("Access-Control-Allow-Origin") != "https://A.example" ||
		!strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Retry-After") || w.Header().Get("Vary") != "Origin" {
		t.Fatalf("listed origin: %v", w.Header())
	}
	if w := do(list, "GET", ""); w.Header().Get("Vary") != "Origin" || w.Code != 200 {
		t.Fatalf("no origin with a list: %d %v", w.Code, w.Header())
	}
}
