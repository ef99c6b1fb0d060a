package gws

import (
	"crypto/subtle"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/simhttp"
)

// Lifetimes of what Auth issues.
const (
	TokenTTL        = time.Hour
	AuthCodeTTL     = time.Minute
	RefreshTokenTTL = 24 * time.Hour
)

// Auth is the simulated GWS Auth service: client credentials for services,
// the authorization-code flow (with a login form) for people, and userinfo.
type Auth struct {
	fx     *fixture.Fixture
	tokens *Tokens
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	codes   map[string]authCode
	refresh map[string]refreshGrant
}

type authCode struct {
	client, user, redirect string
	exp                    time.Time
}

type refreshGrant struct {
	sub Subject
	exp time.Time
}

// NewAuth serves the clients and users of fx; tokens are shared with the
// services that check them.
func NewAuth(fx *fixture.Fixture, tokens *Tokens, log *slog.Logger) *Auth {
	if log == nil {
		log = slog.Default()
	}
	return &Auth{fx: fx, tokens: tokens, log: log, now: time.Now,
		codes: map[string]authCode{}, refresh: map[string]refreshGrant{}}
}

// AuthHandler serves GWS Auth for clients only (no users).
func AuthHandler(clients []fixture.Client, tokens *Tokens, log *slog.Logger) http.Handler {
	return NewAuth(&fixture.Fixture{Clients: clients}, tokens, log).Handler()
}

// Handler serves the /auth/v3 endpoints.
func (a *Auth) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/auth/v3/oauth/authorize", a.authorizeForm)
	r.Post("/auth/v3/oauth/authorize", a.authorizeSubmit)
	r.Post("/auth/v3/oauth/token", a.token)
	r.Get("/auth/v3/userinfo", a.userinfo)
	return r
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	simhttp.WriteJSON(w, status, body)
}

func (a *Auth) token(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "")
		return
	}
	gt := req.PostForm.Get("grant_type")
	switch gt {
	case "client_credentials", "authorization_code", "refresh_token":
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	id, secret, ok := req.BasicAuth()
	if !ok {
		id, secret = req.PostForm.Get("client_id"), req.PostForm.Get("client_secret")
	}
	if !a.knownClient(id, secret) {
		a.log.Info("auth: rejected client", "client", id, "grant", gt)
		w.Header().Set("WWW-Authenticate", `Basic realm="gws"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch gt {
	case "client_credentials":
		simhttp.WriteJSON(w, http.StatusOK, map[string]any{
			"access_token": a.tokens.IssueFor(Subject{Client: id}, TokenTTL),
			"token_type":   "bearer",
			"expires_in":   int(TokenTTL / time.Second),
		})
	case "authorization_code":
		code, ok := a.takeCode(req.PostForm.Get("code"))
		switch {
		case !ok:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
			return
		case code.client != id:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "code was issued to another client")
			return
		case code.redirect != req.PostForm.Get("redirect_uri"):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
			return
		}
		a.writeUserToken(w, Subject{Client: id, User: code.user}, "")
	case "refresh_token":
		rt := req.PostForm.Get("refresh_token")
		a.mu.Lock()
		g, ok := a.refresh[rt]
		a.mu.Unlock()
		if !ok || !a.now().Before(g.exp) || g.sub.Client != id {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or expired refresh token")
			return
		}
		if _, still := a.fx.UserByName(g.sub.User); !still {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "user no longer exists")
			return
		}
		a.writeUserToken(w, g.sub, rt)
	}
}

func (a *Auth) writeUserToken(w http.ResponseWriter, sub Subject, refresh string) {
	if refresh == "" {
		refresh = randomHex(24)
		a.mu.Lock()
		now := a.now()
		for k, g := range a.refresh {
			if now.After(g.exp) {
				delete(a.refresh, k)
			}
		}
		a.refresh[refresh] = refreshGrant{sub: sub, exp: now.Add(RefreshTokenTTL)}
		a.mu.Unlock()
	}
	simhttp.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token":  a.tokens.IssueFor(sub, TokenTTL),
		"token_type":    "bearer",
		"expires_in":    int(TokenTTL / time.Second),
		"refresh_token": refresh,
		"scope":         "*",
	})
}

func (a *Auth) knownClient(id, secret string) bool {
	c, ok := a.fx.ClientByID(id)
	return ok && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1
}

// authRequest is the part of an authorization request carried from the
// login form back to its submission.
type authRequest struct {
	ResponseType, ClientID, RedirectURI, State string
	Error, Username                            string
}

func readAuthRequest(v url.Values) authRequest {
	return authRequest{ResponseType: v.Get("response_type"), ClientID: v.Get("client_id"),
		RedirectURI: v.Get("redirect_uri"), State: v.Get("state")}
}

// check validates the client and redirect URI. Problems with either are
// shown to the person rather than sent to a redirect URI that cannot be
// trusted (RFC 6749 §4.1.2.1).
func (a *Auth) check(ar authRequest) string {
	c, ok := a.fx.ClientByID(ar.ClientID)
	if !ok {
		return "unknown client_id"
	}
	u, err := url.Parse(ar.RedirectURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return "redirect_uri must be an absolute http(s) URL without a fragment"
	}
	if len(c.RedirectURIs) > 0 {
		for _, allowed := range c.RedirectURIs {
			if allowed == ar.RedirectURI {
				return ""
			}
		}
		return "redirect_uri is not registered for this client"
	}
	return ""
}

func redirectWith(w http.ResponseWriter, req *http.Request, base string, params url.Values) {
	u, _ := url.Parse(base)
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, req, u.String(), http.StatusFound)
}

func (a *Auth) authorizeForm(w http.ResponseWriter, req *http.Request) {
	ar := readAuthRequest(req.URL.Query())
	if msg := a.check(ar); msg != "" {
		renderError(w, msg)
		return
	}
	if ar.ResponseType != "code" {
		redirectWith(w, req, ar.RedirectURI, url.Values{"error": {"unsupported_response_type"}, "state": {ar.State}})
		return
	}
	renderLogin(w, http.StatusOK, ar)
}

func (a *Auth) authorizeSubmit(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil {
		renderError(w, "malformed form")
		return
	}
	ar := readAuthRequest(req.PostForm)
	if msg := a.check(ar); msg != "" {
		renderError(w, msg)
		return
	}
	if ar.ResponseType != "code" {
		redirectWith(w, req, ar.RedirectURI, url.Values{"error": {"unsupported_response_type"}, "state": {ar.State}})
		return
	}
	username, password := req.PostForm.Get("username"), req.PostForm.Get("password")
	u, ok := a.fx.UserByName(username)
	if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) != 1 {
		a.log.Info("auth: rejected sign-in", "username", username)
		ar.Error, ar.Username = "Invalid username or password.", username
		renderLogin(w, http.StatusUnauthorized, ar)
		return
	}
	code := randomHex(16)
	a.mu.Lock()
	now := a.now()
	for k, c := range a.codes {
		if now.After(c.exp) {
			delete(a.codes, k)
		}
	}
	a.codes[code] = authCode{client: ar.ClientID, user: u.Username, redirect: ar.RedirectURI, exp: now.Add(AuthCodeTTL)}
	a.mu.Unlock()
	a.log.Info("auth: signed in", "username", u.Username, "client", ar.ClientID)
	redirectWith(w, req, ar.RedirectURI, url.Values{"code": {code}, "state": {ar.State}})
}

// takeCode uses up a code: codes are single use.
func (a *Auth) takeCode(code string) (authCode, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.codes[code]
	if !ok {
		return authCode{}, false
	}
	delete(a.codes, code)
	return c, a.now().Before(c.exp)
}

// UserInfo is what GET /auth/v3/userinfo answers for a user token.
type UserInfo struct {
	Sub             string   `json:"sub"`
	Username        string   `json:"username"`
	Name            string   `json:"name"`
	DBID            int      `json:"dbid"`
	AccessGroups    []string `json:"accessGroups"`
	Roles           []string `json:"roles"`
	ContactCenterID string   `json:"contactCenterId,omitempty"`
	ClientID        string   `json:"clientId"`
}

func (a *Auth) userinfo(w http.ResponseWriter, req *http.Request) {
	sub, ok := a.tokens.Lookup(simhttp.Bearer(req))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", "")
		return
	}
	if sub.User == "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
		oauthError(w, http.StatusForbidden, "insufficient_scope", "the token was issued to a client, not to a user")
		return
	}
	info, ok := userInfo(a.fx, sub.User)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_token", "user no longer exists")
		return
	}
	info.ClientID = sub.Client
	simhttp.WriteJSON(w, http.StatusOK, info)
}

func userInfo(fx *fixture.Fixture, username string) (UserInfo, bool) {
	for i, u := range fx.Users {
		if u.Username != username {
			continue
		}
		info := UserInfo{Sub: u.Username, Username: u.Username, Name: u.Name, DBID: userDBID(i),
			AccessGroups: append([]string{}, u.AccessGroups...), Roles: []string{}, ContactCenterID: u.CCID}
		seen := map[string]bool{}
		for _, gname := range u.AccessGroups {
			g, _ := fx.AccessGroupByName(gname)
			for _, role := range g.Roles {
				if !seen[role] {
					seen[role] = true
					info.Roles = append(info.Roles, role)
				}
			}
		}
		return info, true
	}
	return UserInfo{}, false
}

// Configuration database ids are stable for a given fixture: users from
// 1001, access groups from 2001, scripts from 3001 as they are created.
func userDBID(i int) int        { return 1001 + i }
func accessGroupDBID(i int) int { return 2001 + i }

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Genesys Authentication (simulated)</title></head>
<body>
<h1>Sign in</h1>
{{if .Fatal}}<p id="error" role="alert">{{.Fatal}}</p>{{else}}
{{if .Req.Error}}<p id="error" role="alert">{{.Req.Error}}</p>{{end}}
<form id="login" method="post" action="/auth/v3/oauth/authorize">
<input type="hidden" name="response_type" value="{{.Req.ResponseType}}">
<input type="hidden" name="client_id" value="{{.Req.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.Req.RedirectURI}}">
<input type="hidden" name="state" value="{{.Req.State}}">
<label>Username <input id="username" name="username" autocomplete="username" value="{{.Req.Username}}"></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button id="sign-in" type="submit">Sign in</button>
</form>{{end}}
</body>
</html>
`))

func renderLogin(w http.ResponseWriter, status int, ar authRequest) {
	renderPage(w, status, map[string]any{"Req": ar})
}

func renderError(w http.ResponseWriter, msg string) {
	renderPage(w, http.StatusBadRequest, map[string]any{"Fatal": msg, "Req": authRequest{}})
}

func renderPage(w http.ResponseWriter, status int, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, data)
}
