package testenv

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// DevOpsClient signs in to the node's Callback UI with the DevOps form of
// the login page (UI_DEVOPS_USERNAME/PASSWORD of the node) and returns a
// client that keeps the session cookie and does not follow redirects: the
// client of the operators' tools (/debug/pprof, the admin APIs).
func (n *Node) DevOpsClient(user, pass string) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := n.InternalURL + "/ges/login"
	resp, err := c.Get(login)
	if err != nil {
		return nil, err
	}
	drain(resp)
	u, _ := url.Parse(login)
	nonce := cookieIn(jar, u, "ges_login")
	form := url.Values{"username": {user}, "password": {pass}, "_login": {nonce}}
	resp, err = c.Post(login+"/devops", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	home, _ := url.Parse(n.InternalURL + "/")
	if resp.StatusCode != http.StatusSeeOther || cookieIn(jar, home, "ges_session") == "" {
		return nil, fmt.Errorf("DevOps sign-in: %d %.300s", resp.StatusCode, b)
	}
	return c, nil
}

func cookieIn(jar http.CookieJar, u *url.URL, name string) string {
	for _, k := range jar.Cookies(u) {
		if k.Name == name {
			return k.Value
		}
	}
	return ""
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
