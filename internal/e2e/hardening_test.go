package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// hardeningStack runs one node with short HTTP, session and abuse limits,
// a second API key for Demo, and one allowed CORS origin.
func hardeningStack(t *testing.T) *testenv.Stack {
	t.Helper()
	fx := testenv.DefaultFixture()
	cc := fx.ContactCenter("Demo")
	cc.APIKeys = append(cc.APIKeys, demoKey2)
	return testenv.NewStack(t, testenv.StackOptions{Fixture: fx, Env: map[string]string{
		"HTTP_READ_TIMEOUT":           "2s",
		"UI_SESSION_LIFETIME":         "3s",
		"UI_DEVOPS_USERNAME":          "ops",
		"UI_DEVOPS_PASSWORD":          "ops-pw",
		"API_CREATE_RATE_KEY":         "0.01",
		"API_CREATE_BURST_KEY":        "2",
		"API_CREATE_RATE_TENANT":      "0.01",
		"API_CREATE_BURST_TENANT":     "3",
		"API_KEY_FAILURES_PER_MINUTE": "5",
		"CORS_ALLOWED_ORIGINS":        "https://shop.example",
		"CORS_MAX_AGE":                "300",
	}})
}

const demoKey2 = "demo-api-key-0002"

// A client, GES, and nothing else on the line: the request is written by
// hand, its body one byte a second.
func trickle(t *testing.T, base, head string, bodyLen int) (status string, elapsed time.Duration) {
	t.Helper()
	u, _ := url.Parse(base)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(c, "%sContent-Length: %d\r\nContent-Type: application/json\r\n\r\n{", head, bodyLen); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for range bodyLen - 2 {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "closed: " + err.Error(), time.Since(start)
	}
	return strings.TrimSpace(line), time.Since(start)
}

// A body trickled at one byte a second is cut off at HTTP_READ_TIMEOUT
// (2 s here) on both ports: the external API answers 408 in its envelope,
// and the handler is not held for the 60 s the body would take.
func TestSlowBodyIsCutOff(t *testing.T) {
	s := hardeningStack(t)
	n := s.Nodes[0]
	st, took := trickle(t, n.ExternalURL, "POST /engagement/v3/callbacks/retrieve HTTP/1.1\r\nHost: x\r\nx-api-key: "+demoKey+"\r\n", 60)
	if !strings.Contains(st, " 408 ") || took > 6*time.Second {
		t.Fatalf("external port: %q after %s, want 408 within about 2 s", st, took)
	}
	st, took = trickle(t, n.InternalURL, "POST /genesys/1/service/callback/Callback_Sales HTTP/1.1\r\nHost: x\r\nContactCenterId: "+demoCCID(s)+"\r\n", 60)
	if took > 6*time.Second || strings.Contains(st, " 200 ") {
		t.Fatalf("internal port: %q after %s, want it cut off within about 2 s", st, took)
	}
	// A request of normal speed still works.
	if code, m := n.External(t, "GET", "/engagement/v3/callbacks/queue-status/Callback_Sales", demoKey, nil); code != 200 {
		t.Fatalf("queue-status after the slow bodies: %d %v", code, m)
	}
}

// The OAuth redirect URI comes from configuration (UI_PUBLIC_URL, here its
// default INTERNAL_URL), never from Host or X-Forwarded-Host; the state
// is bound to a sign-in token GES signed, so a cookie a client made up
// (as the state's twin) is refused, and never reused as the login token.
func TestSignInStateAndRedirect(t *testing.T) {
	s := hardeningStack(t)
	n := s.Nodes[0]

	req, _ := http.NewRequest("GET", n.InternalURL+"/ges/auth/start", nil)
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "attacker.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	c := uiClient(t)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("sign-in start: %d %v", resp.StatusCode, err)
	}
	if got, want := loc.Query().Get("redirect_uri"), n.InternalURL+"/ges/auth/callback"; got != want {
		t.Fatalf("redirect_uri %q, want %q (from configuration)", got, want)
	}
	state := loc.Query().Get("state")
	var issued string
	for _, k := range resp.Cookies() {
		if k.Name == "ges_login" {
			issued = k.Value
		}
	}
	if state == "" || issued == "" || state == issued {
		t.Fatalf("state %q and login cookie %q: the state must be derived, not the cookie itself", state, issued)
	}

	callback := func(cookieValue, state string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", n.InternalURL+"/ges/auth/callback?code=anything&state="+url.QueryEscape(state), nil)
		req.AddCookie(&http.Cookie{Name: "ges_login", Value: cookieValue})
		resp, err := uiClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := make([]byte, 4096)
		k, _ := resp.Body.Read(b)
		return resp.StatusCode, string(b[:k])
	}
	forged := strings.Repeat("A", 43)
	for _, tc := range []struct{ name, cookie, state string }{
		{"forged cookie as its own state", forged, forged},
		{"forged cookie with a real state", forged, state},
		{"real cookie as the state (the old scheme)", issued, issued},
		{"real cookie, altered", issued[:len(issued)-2] + "AA", state},
		{"no cookie", "", state},
	} {
		if code, b := callback(tc.cookie, tc.state); code != http.StatusBadRequest || !strings.Contains(b, "did not start here") {
			t.Errorf("%s: %d %.200s", tc.name, code, b)
		}
	}

	// The login page does not take a made-up cookie as its token.
	req, _ = http.NewRequest("GET", n.InternalURL+"/ges/login", nil)
	req.AddCookie(&http.Cookie{Name: "ges_login", Value: forged})
	resp, err = uiClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var reissued string
	for _, k := range resp.Cookies() {
		if k.Name == "ges_login" {
			reissued = k.Value
		}
	}
	if reissued == "" || reissued == forged {
		t.Fatalf("login page with a forged cookie set %q", reissued)
	}
	// Nor does the DevOps form.
	dc := uiClient(t)
	u, _ := url.Parse(n.InternalURL + "/ges/login")
	dc.Jar.SetCookies(u, []*http.Cookie{{Name: "ges_login", Value: forged, Path: "/ges"}})
	if resp, b := fetch(t, dc, "POST", n.InternalURL+"/ges/login/devops", url.Values{"username": {"ops"}, "password": {"ops-pw"}, "_login": {forged}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("DevOps form with a forged token: %d %.200s", resp.StatusCode, b)
	}
	// The real flows still sign in.
	devopsSignIn(t, n, "ops", "ops-pw")
	gwsSignIn(t, n, "admin", "admin-pw")
}

// A session ends UI_SESSION_LIFETIME (3 s here) after its sign-in however
// active it is: pages send the browser to the sign-in page saying so, and
// the admin APIs answer 401.
func TestSessionAbsoluteLifetime(t *testing.T) {
	s := hardeningStack(t)
	n := s.Nodes[0]
	c := gwsSignIn(t, n, "admin", "admin-pw")
	signedIn := time.Now()
	var last string
	eventually(t, 15*time.Second, "the session to reach its lifetime", func() bool {
		resp, _ := fetch(t, c, "GET", n.InternalURL+"/ges/callbacks", nil)
		last = fmt.Sprint(resp.StatusCode, " ", resp.Header.Get("Location"))
		switch {
		case resp.StatusCode == http.StatusOK:
			time.Sleep(200 * time.Millisecond) // active: every page restarts the idle timeout
			return false
		case resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/ges/login?expired=lifetime":
			return true
		}
		t.Fatalf("unexpected answer while signed in: %s", last)
		return false
	})
	if took := time.Since(signedIn); took < 2500*time.Millisecond {
		t.Fatalf("the session ended after %s, before its 3 s lifetime", took)
	}
	_, page := fetch(t, c, "GET", n.InternalURL+"/ges/login?expired=lifetime", nil)
	if !strings.Contains(string(page), "longest allowed length") {
		t.Fatalf("sign-in page after the lifetime: %.300s", page)
	}
	if resp, b := fetch(t, c, "GET", n.InternalURL+"/ges/v1/datatables/CALLBACK_SETTINGS", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("admin API with the ended session: %d %.200s", resp.StatusCode, b)
	}
}

// externalRaw sends one request to the external port and returns the
// answer with its headers.
func externalRaw(t *testing.T, n *testenv.Node, method, path string, h http.Header, body any) *testenv.Response {
	t.Helper()
	r, err := testenv.Do(method, n.ExternalURL+path, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type envelopeStatus struct {
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		CorrID  string `json:"corrId"`
	} `json:"status"`
}

func assertThrottled(t *testing.T, what string, r *testenv.Response, policy string) {
	t.Helper()
	var e envelopeStatus
	decode(t, r.Body, &e)
	if r.Status != 429 || e.Status.Code != 429 || e.Status.CorrID == "" || e.Status.Message == "" {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("%s: Retry-After %q", what, ra)
	}
	if p := r.Header.Get("RateLimit-Policy"); !strings.HasPrefix(p, `"`+policy+`";q=`) {
		t.Errorf("%s: RateLimit-Policy %q, want the %s policy", what, p, policy)
	}
	if rl := r.Header.Get("RateLimit"); !strings.HasPrefix(rl, `"`+policy+`";r=0;t=`) {
		t.Errorf("%s: RateLimit %q", what, rl)
	}
}

// Creates are limited per API key (burst 2 here) and per tenant (burst 3):
// past them 429 in the envelope with Retry-After and the RateLimit fields.
// A create one bucket refuses spends no token of the other.
func TestCreateLimits(t *testing.T) {
	s := hardeningStack(t)
	n := s.Nodes[0]
	body := func(i int) map[string]any {
		return map[string]any{"serviceName": "Callback_Sales", "phoneNumber": fmt.Sprintf("+1415555%04d", i)}
	}
	key := func(k string) http.Header { return headers("x-api-key", k, "Content-Type", "application/json") }
	for i := range 2 {
		if r := externalRaw(t, n, "POST", "/engagement/v3/callbacks/create", key(demoKey), body(i)); r.Status != 200 {
			t.Fatalf("create %d with the first key: %d %s", i, r.Status, r.Body)
		}
	}
	assertThrottled(t, "third create with the first key", externalRaw(t, n, "POST", "/engagement/v3/callbacks/create", key(demoKey), body(2)), "api-key")
	// The tenant has one token left, which the second key takes.
	if r := externalRaw(t, n, "POST", "/engagement/v3/callbacks/create", key(demoKey2), body(3)); r.Status != 200 {
		t.Fatalf("create with the second key: %d %s", r.Status, r.Body)
	}
	assertThrottled(t, "create past the tenant's burst", externalRaw(t, n, "POST", "/engagement/v3/callbacks/create", key(demoKey2), body(4)), "tenant")
	// Another tenant and the reads are not concerned.
	if r := externalRaw(t, n, "POST", "/engagement/v3/callbacks/create", key(otherKey), body(5)); r.Status != 200 {
		t.Fatalf("another tenant's create: %d %s", r.Status, r.Body)
	}
	if code, m := n.External(t, "GET", "/engagement/v3/callbacks/queue-status/Callback_Sales", demoKey, nil); code != 200 {
		t.Fatalf("a read of the throttled tenant: %d %v", code, m)
	}
}

// Wrong API keys from one client address (X-Forwarded-For through the
// trusted loopback proxy) are refused with 429 without a GWS lookup once
// 5 a minute failed; a key GES knows still passes from there, and other
// addresses are not concerned.
func TestWrongAPIKeysAreThrottled(t *testing.T) {
	s := hardeningStack(t)
	n := s.Nodes[0]
	const path = "/engagement/v3/callbacks/queue-status/Callback_Sales"
	from := func(addr, k string) http.Header {
		return headers("x-api-key", k, "X-Forwarded-For", "198.51.100.1, "+addr)
	}
	if r := externalRaw(t, n, "GET", path, from("203.0.113.9", demoKey), nil); r.Status != 200 {
		t.Fatalf("the real key: %d %s", r.Status, r.Body)
	}
	for i := range 5 {
		if r := externalRaw(t, n, "GET", path, from("203.0.113.9", fmt.Sprintf("wrong-key-%d", i)), nil); r.Status != 401 {
			t.Fatalf("wrong key %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := externalRaw(t, n, "GET", path, from("203.0.113.9", "wrong-key-5"), nil)
	assertThrottled(t, "sixth wrong key", r, "invalid-api-key")
	var e envelopeStatus
	decode(t, r.Body, &e)
	if !strings.Contains(e.Status.Message, "invalid API key") {
		t.Fatalf("message %q", e.Status.Message)
	}
	// Spoofing the left part of X-Forwarded-For does not help.
	if r := externalRaw(t, n, "GET", path, headers("x-api-key", "wrong-key-6", "X-Forwarded-For", "192.0.2.55, 203.0.113.9"), nil); r.Status != 429 {
		t.Fatalf("a spoofed left hop: %d %s", r.Status, r.Body)
	}
	if r := externalRaw(t, n, "GET", path, from("203.0.113.9", demoKey), nil); r.Status != 200 {
		t.Fatalf("a known key from the throttled address: %d %s", r.Status, r.Body)
	}
	if r := externalRaw(t, n, "GET", path, from("203.0.113.10", "wrong-key-7"), nil); r.Status != 401 {
		t.Fatalf("a wrong key from another address: %d %s", r.Status, r.Body)
	}
}

// CORS answers only the configured origins: the origin echoed, Vary:
// Origin, Max-Age and the headers scripts may read (Retry-After among
// them); other origins get no CORS header and their preflight 403.
func TestCORSAllowList(t *testing.T) {
	s := hardeningStack(t)
	n := s.Nodes[0]
	const path = "/engagement/v3/callbacks/queue-status/Callback_Sales"
	pre := externalRaw(t, n, "OPTIONS", path, headers("Origin", "https://shop.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "x-api-key"), nil)
	h := pre.Header
	if pre.Status != 204 || h.Get("Access-Control-Allow-Origin") != "https://shop.example" || !strings.Contains(h.Get("Vary"), "Origin") ||
		h.Get("Access-Control-Max-Age") != "300" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "x-api-key") ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Fatalf("preflight of the allowed origin: %d %v", pre.Status, h)
	}
	get := externalRaw(t, n, "GET", path, headers("Origin", "https://shop.example", "x-api-key", demoKey), nil)
	if get.Status != 200 || get.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" || !strings.Contains(get.Header.Get("Vary"), "Origin") {
		t.Fatalf("request of the allowed origin: %d %v", get.Status, get.Header)
	}
	for _, o := range []string{"https://evil.example", "https://shop.example.evil.example", "null", "http://shop.example"} {
		pre := externalRaw(t, n, "OPTIONS", path, headers("Origin", o, "Access-Control-Request-Method", "GET"), nil)
		if pre.Status != 403 || pre.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight of %s: %d %v", o, pre.Status, pre.Header)
		}
		get := externalRaw(t, n, "GET", path, headers("Origin", o, "x-api-key", demoKey), nil)
		if get.Status != 200 || get.Header.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(get.Header.Get("Vary"), "Origin") {
			t.Errorf("request of %s: %d %v", o, get.Status, get.Header)
		}
	}
}
