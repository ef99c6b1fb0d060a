package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gesgo/ges/internal/testenv"
)

// uiClient is a cookie-keeping HTTP client that does not follow redirects.
func uiClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, c *http.Client, method, target string, form url.Values) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func cookie(c *http.Client, base, name string) string {
	u, _ := url.Parse(base)
	for _, k := range c.Jar.Cookies(u) {
		if k.Name == name {
			return k.Value
		}
	}
	return ""
}

// devopsSignIn signs in with the DevOps form of the login page.
func devopsSignIn(t *testing.T, n *testenv.Node, user, pass string) *http.Client {
	t.Helper()
	c, err := n.DevOpsClient(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// gwsSignIn signs in through GWS Auth's authorization page (gessim).
func gwsSignIn(t *testing.T, n *testenv.Node, user, pass string) *http.Client {
	t.Helper()
	c := uiClient(t)
	resp, b := fetch(t, c, "GET", n.InternalURL+"/ges/auth/start", nil)
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("sign-in start: %d %v %s", resp.StatusCode, err, b)
	}
	form := url.Values{"username": {user}, "password": {pass}}
	for k, v := range authorize.Query() {
		form[k] = v
	}
	authorize.RawQuery = ""
	resp, b = fetch(t, c, "POST", authorize.String(), form)
	back := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || back == "" {
		t.Fatalf("GWS sign-in of %s: %d %s", user, resp.StatusCode, b)
	}
	resp, b = fetch(t, c, "GET", back, nil)
	if resp.StatusCode != http.StatusSeeOther || cookie(c, n.InternalURL+"/", "ges_session") == "" {
		t.Fatalf("sign-in callback of %s: %d %s", user, resp.StatusCode, b)
	}
	return c
}

// The node's runtime profiles (/debug/pprof/ on the internal port) are
// read with a Callback UI session of DevOps or a Callback Administrator:
// without a session the answer is 401, with another role 403.
func TestProfilesNeedAnOperatorSession(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Env: map[string]string{"UI_DEVOPS_USERNAME": "ops", "UI_DEVOPS_PASSWORD": "ops-pw"}})
	n := s.Nodes[0]
	heap := n.InternalURL + "/debug/pprof/heap?debug=1"

	resp, b := fetch(t, uiClient(t), "GET", heap, nil)
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(b), "heap profile") {
		t.Fatalf("without a session: %d %.200s", resp.StatusCode, b)
	}
	stranger := uiClient(t)
	u, _ := url.Parse(n.InternalURL)
	stranger.Jar.SetCookies(u, []*http.Cookie{{Name: "ges_session", Value: "not-a-session", Path: "/"}})
	if resp, b := fetch(t, stranger, "GET", heap, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("with an unknown session: %d %.200s", resp.StatusCode, b)
	}

	for _, user := range []string{"monitor", "supervisor", "developer"} {
		c := gwsSignIn(t, n, user, user+"-pw")
		if resp, b := fetch(t, c, "GET", heap, nil); resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), "heap profile") {
			t.Fatalf("%s: %d %.200s", user, resp.StatusCode, b)
		}
	}

	ops := devopsSignIn(t, n, "ops", "ops-pw")
	resp, b = fetch(t, ops, "GET", heap, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "heap profile") {
		t.Fatalf("DevOps heap profile: %d %.200s", resp.StatusCode, b)
	}
	if resp, b := fetch(t, ops, "GET", n.InternalURL+"/debug/pprof/", nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine") {
		t.Fatalf("DevOps profile index: %d %.200s", resp.StatusCode, b)
	}
	// A CPU profile is the gzipped protobuf go tool pprof reads.
	if resp, b := fetch(t, ops, "GET", n.InternalURL+"/debug/pprof/profile?seconds=1", nil); resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Fatalf("DevOps CPU profile: %d %.200q", resp.StatusCode, b)
	}

	admin := gwsSignIn(t, n, "admin", "admin-pw")
	if resp, b := fetch(t, admin, "GET", n.InternalURL+"/debug/pprof/goroutine?debug=1", nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine profile") {
		t.Fatalf("administrator goroutine profile: %d %.200s", resp.StatusCode, b)
	}
	// Signing out ends the access; the session cookie is gone too.
	_, page := fetch(t, admin, "GET", n.InternalURL+"/ges/queues", nil)
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no anti-forgery token on the page: %.300s", page)
	}
	sid := cookie(admin, n.InternalURL+"/", "ges_session")
	if resp, b := fetch(t, admin, "POST", n.InternalURL+"/ges/logout", url.Values{"_csrf": {string(m[1])}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d %.200s", resp.StatusCode, b)
	}
	if cookie(admin, n.InternalURL+"/", "ges_session") != "" {
		t.Fatal("the session cookie outlived the sign-out")
	}
	admin.Jar.SetCookies(u, []*http.Cookie{{Name: "ges_session", Value: sid, Path: "/"}})
	if resp, b := fetch(t, admin, "GET", heap, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after the sign-out: %d %.200s", resp.StatusCode, b)
	}
}
