package ui

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// loginTTL bounds how long a sign-in may take (the login cookie).
const loginTTL = 10 * time.Minute

// oauthConfig is the authorization-code client: the browser goes to the
// public auth URL, GES exchanges the code at the internal one.
func (u *UI) oauthConfig(r *http.Request) *oauth2.Config {
	return &oauth2.Config{
		ClientID: u.d.ClientID, ClientSecret: u.d.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   strings.TrimRight(u.d.PublicAuthURL, "/") + "/auth/v3/oauth/authorize",
			TokenURL:  strings.TrimRight(u.d.AuthURL, "/") + "/auth/v3/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		// From configuration (UI_PUBLIC_URL), never from the request's
		// Host or X-Forwarded-Host, which the client chooses.
		RedirectURL: u.d.PublicURL + "/ges/auth/callback",
	}
}

// loginNonce returns the browser's login token, setting a new one unless
// it holds one GES issued with at least a minute left: the token the
// OAuth state is derived from, and the DevOps form's anti-forgery token.
// A value a client made up is never taken.
func (u *UI) loginNonce(w http.ResponseWriter, r *http.Request) string {
	now := u.d.Clock.Now()
	v := cookieValue(r, loginCookie)
	if exp, ok := u.login.expiry(v); ok && exp.Sub(now) > time.Minute {
		return v
	}
	v = u.login.issue(now.Add(loginTTL))
	setCookie(w, r, loginCookie, v, int(loginTTL.Seconds()))
	return v
}

// loginTokenOf returns the request's login token when GES issued it and
// it has not expired, "" otherwise.
func (u *UI) loginTokenOf(r *http.Request) string {
	v := cookieValue(r, loginCookie)
	if !u.login.valid(v, u.d.Clock.Now()) {
		return ""
	}
	return v
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if sess, err := u.sessions.load(r.Context(), cookieValue(r, sessionCookie), false); err == nil && sess != nil {
		http.Redirect(w, r, "/ges/", http.StatusSeeOther)
		return
	}
	u.showLogin(w, r, http.StatusOK, "")
}

func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, code int, msg string) {
	nonce := u.loginNonce(w, r)
	switch e := r.URL.Query().Get("expired"); {
	case msg != "" || e == "":
	case e == "lifetime":
		msg = fmt.Sprintf("Your session reached its longest allowed length (%s). Sign in again.", u.d.SessionLifetime)
	default:
		msg = fmt.Sprintf("Your session ended after %s without activity. Sign in again.", u.d.SessionTimeout)
	}
	u.render(w, r, code, "login", nil, map[string]any{
		"Nonce": nonce, "Message": msg, "DevOps": u.d.DevOpsUsername != "" && u.d.DevOpsPassword != "",
		"GWS": u.d.AuthURL != "" && u.d.ClientID != "",
	})
}

func (u *UI) authStart(w http.ResponseWriter, r *http.Request) {
	if u.d.AuthURL == "" || u.d.ClientID == "" {
		u.showLogin(w, r, http.StatusServiceUnavailable, "GWS Authentication is not configured.")
		return
	}
	nonce := u.loginNonce(w, r)
	http.Redirect(w, r, u.oauthConfig(r).AuthCodeURL(u.login.state(nonce)), http.StatusFound)
}

func (u *UI) authCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		u.showLogin(w, r, http.StatusUnauthorized, "GWS Authentication refused the sign-in: "+e)
		return
	}
	login := u.loginTokenOf(r)
	if login == "" || !sameToken(q.Get("state"), u.login.state(login)) {
		u.showLogin(w, r, http.StatusBadRequest, "The sign-in expired or did not start here. Try again.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
	tok, err := u.oauthConfig(r).Exchange(ctx, q.Get("code"))
	if err != nil {
		slog.Warn("UI sign-in: code exchange failed", "err", err)
		u.showLogin(w, r, http.StatusUnauthorized, "GWS Authentication did not accept the sign-in. Try again.")
		return
	}
	info, err := u.gwsUser.userinfo(ctx, tok.AccessToken)
	if err != nil {
		slog.Warn("UI sign-in: userinfo failed", "err", err)
		u.showLogin(w, r, http.StatusBadGateway, "Could not read your user from GWS. Try again.")
		return
	}
	groups := info.groups()
	if u.d.ConfURL != "" {
		if g, err := u.gwsUser.accessGroups(ctx, info.ContactCenterID, info.Username); err == nil {
			groups = g
		} else {
			slog.Warn("UI sign-in: access groups from GWS Configuration failed; using userinfo's", "user", info.Username, "err", err)
		}
	}
	roles := RolesOf(groups, u.d.DevOpsGroups)
	sess := &Session{User: info.Username, Name: info.Name, Tenant: info.ContactCenterID, Roles: roles}
	for _, g := range groups {
		sess.Groups = append(sess.Groups, g.Name)
	}
	sess.DevOps = Can(roles, PickTenant)
	if len(roles) == 0 {
		u.showLogin(w, r, http.StatusForbidden, "Your user has no Callback role (no access group grants one).")
		return
	}
	if sess.Tenant == "" && !sess.DevOps {
		u.showLogin(w, r, http.StatusForbidden, "Your user belongs to no contact center.")
		return
	}
	u.start(w, r, sess)
}

func (u *UI) devopsLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) || !sameToken(r.PostFormValue("_login"), u.loginTokenOf(r)) {
		u.showLogin(w, r, http.StatusForbidden, "The sign-in form expired. Try again.")
		return
	}
	user, pass := r.PostFormValue("username"), r.PostFormValue("password")
	okUser := subtle.ConstantTimeCompare([]byte(user), []byte(u.d.DevOpsUsername)) == 1
	okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(u.d.DevOpsPassword)) == 1
	if u.d.DevOpsUsername == "" || u.d.DevOpsPassword == "" || !okUser || !okPass {
		u.showLogin(w, r, http.StatusUnauthorized, "Invalid username or password.")
		return
	}
	u.start(w, r, &Session{User: user, Name: "DevOps", Roles: []Role{RoleDevOps}, DevOps: true})
}

// start opens a session for a signed-in user.
func (u *UI) start(w http.ResponseWriter, r *http.Request, sess *Session) {
	if sess.Tenant == "" {
		if ts := u.tenantChoices(r.Context()); len(ts) > 0 {
			sess.Tenant = ts[0].ID
		}
	}
	u.setTenantName(r.Context(), sess)
	if err := u.sessions.create(r.Context(), sess); err != nil {
		slog.Error("UI session store failed", "err", err)
		u.showLogin(w, r, http.StatusServiceUnavailable, "Session storage is unavailable, try again.")
		return
	}
	setCookie(w, r, loginCookie, "", -1)
	setCookie(w, r, sessionCookie, sess.id, 0)
	slog.Info("UI sign-in", "user", sess.User, "tenant", sess.Tenant, "roles", sess.Roles)
	http.Redirect(w, r, "/ges/", http.StatusSeeOther)
}

func (u *UI) setTenantName(ctx context.Context, sess *Session) {
	sess.TenantName = sess.Tenant
	if sess.Tenant == "" {
		return
	}
	if t, err := u.d.Tenants.ByID(ctx, sess.Tenant); err == nil && t.Name != "" {
		sess.TenantName = t.Name
	}
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if err := u.sessions.delete(r.Context(), sess.id); err != nil {
		slog.Warn("could not delete a UI session", "err", err)
	}
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/ges/login", http.StatusSeeOther)
}

func (u *UI) pickTenant(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	id := r.PostFormValue("tenant")
	if u.d.Settings.Table(id) == nil {
		u.fail(w, r, http.StatusBadRequest, "Unknown contact center.")
		return
	}
	sess.Tenant, sess.ServicesAt = id, time.Time{}
	u.setTenantName(r.Context(), sess)
	u.flash(w, r, "ok", "Now working on "+sess.TenantName+".", "/ges/callbacks")
}

// userDirectory reads users from GWS: userinfo with the user's token, the
// access groups from GWS Configuration with GES's client credentials.
type userDirectory struct {
	authURL, confURL string
	plain, client    *http.Client
}

func newUserDirectory(authURL, confURL, clientID, clientSecret string) *userDirectory {
	plain := &http.Client{Timeout: 5 * time.Second}
	d := &userDirectory{authURL: strings.TrimRight(authURL, "/"), confURL: strings.TrimRight(confURL, "/"), plain: plain, client: plain}
	if clientID != "" && authURL != "" {
		cc := clientcredentials.Config{ClientID: clientID, ClientSecret: clientSecret, TokenURL: d.authURL + "/auth/v3/oauth/token"}
		d.client = cc.Client(context.WithValue(context.Background(), oauth2.HTTPClient, plain))
		d.client.Timeout = 5 * time.Second
	}
	return d
}

type userInfo struct {
	Username        string   `json:"username"`
	Sub             string   `json:"sub"`
	Name            string   `json:"name"`
	AccessGroups    []string `json:"accessGroups"`
	Roles           []string `json:"roles"`
	ContactCenterID string   `json:"contactCenterId"`
}

// groups are userinfo's access groups; its role names are attached to
// each, as userinfo does not say which group grants which.
func (i *userInfo) groups() []AccessGroup {
	out := make([]AccessGroup, 0, len(i.AccessGroups)+1)
	for _, g := range i.AccessGroups {
		out = append(out, AccessGroup{Name: g})
	}
	if len(i.Roles) > 0 {
		out = append(out, AccessGroup{Roles: i.Roles})
	}
	return out
}

func (d *userDirectory) userinfo(ctx context.Context, token string) (*userInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.authURL+"/auth/v3/userinfo", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := d.plain.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("userinfo answered %s", resp.Status)
	}
	var info userInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, err
	}
	if info.Username == "" {
		info.Username = info.Sub
	}
	if info.Username == "" {
		return nil, fmt.Errorf("userinfo names no user")
	}
	return &info, nil
}

func (d *userDirectory) accessGroups(ctx context.Context, ccid, user string) ([]AccessGroup, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.confURL+"/configuration/v3/users/"+url.PathEscape(user)+"/access-groups", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if ccid != "" {
		req.Header.Set("X-Ccid", ccid)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GWS Configuration answered %s", resp.Status)
	}
	var env struct {
		Data struct {
			AccessGroups []AccessGroup `json:"accessGroups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return nil, err
	}
	return env.Data.AccessGroups, nil
}
