// Package ui is the Callback UI served at /ges on the internal port:
// GWS login (OAuth2 authorization code), server-side sessions in Redis,
// roles from access groups, and the Callbacks, Callback Queues,
// Click-To-Call-In and Developer pages rendered from web/.
package ui

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/callin"
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/credentials"
	"github.com/gesgo/ges/internal/discovery"
	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/numbers"
	"github.com/gesgo/ges/internal/pause"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/web"
)

// Tenants resolves contact centers.
type Tenants interface {
	ByAPIKey(ctx context.Context, key string) (*gws.Tenant, error)
	ByID(ctx context.Context, id string) (*gws.Tenant, error)
}

// Permissions answers whether an access group may read a VQ's proxy
// script (gws.Configuration).
type Permissions interface {
	CanRead(ctx context.Context, ccid, group, script string) (bool, error)
}

// Deps are what the UI needs.
type Deps struct {
	// Sessions keeps the signed-in users' sessions.
	Sessions SessionStore
	// APIErrors keeps the external API's errors; nil: the Developer tab
	// lists none.
	APIErrors ErrorStore
	// Grid finds the callbacks the grid and the export list.
	Grid Grid
	// Clock is the time of the pages and sessions (nil: clock.System).
	Clock     clock.Clock
	Callbacks *callback.Service
	Settings  *settings.Registry
	Tenants   Tenants
	// Permissions is nil without GWS Configuration: no segmentation.
	Permissions Permissions
	// History returns a callback's state changes.
	History func(ctx context.Context, tenant, id string) ([]callback.Event, error)
	// Credentials and their checks per kind (nil: the tab says so).
	Credentials      *credentials.Store
	CredentialChecks map[string]func([]byte) error
	// Refetch reloads a tenant's configuration (data tables, proxies).
	Refetch func(ctx context.Context, tenant string) error
	// Callin is nil when Click-To-Call-In is not available.
	Callin *callin.Service
	// Pauses pauses and resumes services (nil: the Queues page offers no
	// pause).
	Pauses *pause.Service
	// Numbers manages the permitted & blocked number rules (nil: the page
	// says they are not available).
	Numbers *numbers.Service
	// Nodes lists the ORS/URS pools of discovery (nil: the Region
	// Affinity page shows none).
	Nodes func() []discovery.Snapshot
	// Waits gives a queue's expected wait (nil: the Queues page shows
	// no EWT).
	Waits Waits
	// StateHours counts state changes per hour for the Queues page's
	// chart (nil: no chart).
	StateHours func(ctx context.Context, tenant string, services []string, since time.Time) ([]StateHour, error)

	// GWS Auth: AuthURL is used by GES, PublicAuthURL by browsers.
	AuthURL, PublicAuthURL, ConfURL string
	ClientID, ClientSecret          string
	DevOpsUsername, DevOpsPassword  string
	DevOpsGroups                    []string
	// SessionTimeout is the idle timeout (default 20 minutes);
	// SessionLifetime ends a session that long after its sign-in (0: never).
	SessionTimeout, SessionLifetime time.Duration
	// PublicURL is how browsers reach GES (scheme, host, optional prefix):
	// the OAuth redirect URI is built from it.
	PublicURL string
	// LoginSecret is the deployment's secret the sign-in tokens are signed
	// with (derived; nil: a key of this process only).
	LoginSecret []byte
}

// UI is the mounted Callback UI.
type UI struct {
	d        Deps
	sessions *sessions
	login    loginKeys
	pages    map[string]*template.Template
	gwsUser  *userDirectory
	Errors   *ErrorLog
}

// New prepares the UI; it panics when the embedded templates are broken
// (a build defect, caught by every test).
func New(d Deps) *UI {
	if d.SessionTimeout <= 0 {
		d.SessionTimeout = 20 * time.Minute
	}
	if d.Clock == nil {
		d.Clock = clock.System{}
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	u := &UI{d: d, sessions: &sessions{store: d.Sessions, clock: d.Clock, timeout: d.SessionTimeout, lifetime: d.SessionLifetime},
		login: newLoginKeys(d.LoginSecret), pages: map[string]*template.Template{}}
	u.gwsUser = newUserDirectory(d.AuthURL, d.ConfURL, d.ClientID, d.ClientSecret)
	if d.APIErrors != nil {
		u.Errors = &ErrorLog{store: d.APIErrors, clock: d.Clock, queue: make(chan APIError, 1024)}
	}
	names, err := fs.Glob(web.Templates, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		// layout.html wraps every page; _*.html are parts shared by pages.
		if strings.HasSuffix(n, "/layout.html") || strings.HasPrefix(n, "templates/_") {
			continue
		}
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(web.Templates, "templates/layout.html", "templates/_*.html", n))
		u.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	return u
}

// Mount adds the UI's routes under /ges.
func (u *UI) Mount(r chi.Router) {
	static, _ := fs.Sub(web.Static, "static")
	r.Handle("/ges/static/*", http.StripPrefix("/ges/static/", headers(http.FileServer(http.FS(static)))))
	r.Group(func(r chi.Router) {
		r.Use(headers)
		r.Get("/ges/login", u.loginPage)
		r.Get("/ges/auth/start", u.authStart)
		r.Get("/ges/auth/callback", u.authCallback)
		r.Post("/ges/login/devops", u.devopsLogin)
		r.Group(func(r chi.Router) {
			r.Use(u.authenticated)
			r.Get("/ges", u.home)
			r.Get("/ges/", u.home)
			r.Post("/ges/logout", u.logout)
			r.Post("/ges/tenant", u.need(PickTenant, u.pickTenant))
			r.Get("/ges/callbacks", u.need(ViewCallbacks, u.callbacksPage))
			r.Post("/ges/callbacks", u.need(ChangeCallbacks, u.createCallback))
			r.Get("/ges/callbacks/export.csv", u.need(ExportCallbacks, u.exportCSV))
			r.Get("/ges/callbacks/slots", u.need(ChangeCallbacks, u.slotsFragment))
			r.Post("/ges/callbacks/cancel", u.need(ChangeCallbacks, u.bulkCancel))
			r.Get("/ges/callbacks/{id}", u.need(ViewCallbacks, u.callbackPage))
			r.Post("/ges/callbacks/{id}/cancel", u.need(ChangeCallbacks, u.cancelCallback))
			r.Post("/ges/callbacks/{id}/reschedule", u.need(ChangeCallbacks, u.rescheduleCallback))
			r.Get("/ges/queues", u.need(ViewQueues, u.queuesPage))
			r.Post("/ges/queues/{service}/pause", u.need(ChangeCallbacks, u.pauseService))
			r.Post("/ges/queues/{service}/resume", u.need(ChangeCallbacks, u.resumeService))
			r.Get("/ges/callin", u.need(ViewCallin, u.callinPage))
			r.Post("/ges/callin", u.need(ChangeCallin, u.putCallinGroup))
			r.Get("/ges/callin/{group}", u.need(ViewCallin, u.callinGroupPage))
			r.Post("/ges/callin/{group}/delete", u.need(ChangeCallin, u.deleteCallinGroup))
			r.Get("/ges/tools/capacity", u.need(ViewCapacity, u.capacityPage))
			r.Get("/ges/tools/regions", u.need(ViewRegions, u.regionsPage))
			r.Get("/ges/tools/numbers", u.need(ManageNumbers, u.numbersPage))
			r.Post("/ges/tools/numbers", u.need(ManageNumbers, u.putNumberRule))
			r.Post("/ges/tools/numbers/test", u.need(ManageNumbers, u.testNumberRule))
			r.Post("/ges/tools/numbers/{rule}/delete", u.need(ManageNumbers, u.deleteNumberRule))
			r.Get("/ges/developer", u.need(UseDeveloper, u.developerPage))
			r.Post("/ges/developer/apikey", u.need(UseDeveloper, u.checkAPIKey))
			r.Post("/ges/developer/credentials/{kind}", u.need(UseDeveloper, u.putCredentials))
			r.Post("/ges/developer/credentials/{kind}/delete", u.need(UseDeveloper, u.deleteCredentials))
			r.Post("/ges/developer/refetch", u.need(UseDeveloper, u.refetch))
		})
	})
	u.mountProfiles(r)
}

// Run keeps the API error log written and pruned until ctx ends.
func (u *UI) Run(ctx context.Context) error {
	if u.Errors == nil {
		<-ctx.Done()
		return nil
	}
	return u.Errors.run(ctx)
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, path, http.StatusSeeOther) }
}

// landings are the start pages, in order of preference, with the right
// each needs.
var landings = []struct {
	right Right
	path  string
}{{ViewCallbacks, "/ges/callbacks"}, {ViewQueues, "/ges/queues"}, {UseDeveloper, "/ges/developer"}}

// homeOf is the first page the roles may see ("" for none).
func homeOf(roles []Role) string {
	for _, l := range landings {
		if Can(roles, l.right) {
			return l.path
		}
	}
	return ""
}

// home sends the user to the first page their role may see.
func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	to := homeOf(sess.Roles)
	if to == "" {
		u.forbidden(w, r, sess, "Your role gives access to no page of the Callback UI.")
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// headers sets what keeps pages from being framed, sniffed, cached or
// running foreign script.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/ges/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

func sessionOf(r *http.Request) *Session {
	s, _ := r.Context().Value(ctxKey{}).(*Session)
	return s
}

// pollHeader marks the grid's background refresh, which must not keep an
// idle session alive.
const pollHeader = "X-GES-Poll"

// authenticated loads the session (or sends the browser to the login
// page) and checks the anti-forgery token of every state change.
func (u *UI) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := cookieValue(r, sessionCookie)
		sess, err := u.sessions.load(r.Context(), id, r.Header.Get(pollHeader) == "")
		if err != nil {
			if !errors.Is(err, errNoSession) {
				slog.Error("UI session store failed", "err", err)
				http.Error(w, "Session storage is unavailable, try again", http.StatusServiceUnavailable)
				return
			}
			target := "/ges/login"
			if errors.Is(err, errSessionOver) {
				target += "?expired=lifetime"
				setCookie(w, r, sessionCookie, "", -1)
			} else if id != "" {
				target += "?expired=1"
				setCookie(w, r, sessionCookie, "", -1)
			}
			if r.Header.Get(pollHeader) != "" {
				w.Header().Set("X-GES-Login", target)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.PostFormValue("_csrf")
			}
			if !sameOrigin(r) || !sameToken(tok, sess.CSRF) {
				u.forbidden(w, r, sess, "The request carried no valid anti-forgery token. Reload the page and try again.")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess)))
	})
}

// need refuses (403) a request whose user lacks the right.
func (u *UI) need(right Right, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionOf(r)
		if !Can(sess.Roles, right) {
			u.forbidden(w, r, sess, "Your role does not allow this.")
			return
		}
		h(w, r)
	}
}

func (u *UI) forbidden(w http.ResponseWriter, r *http.Request, sess *Session, msg string) {
	u.render(w, r, http.StatusForbidden, "error", sess, errorPage(sess, http.StatusForbidden, "Not allowed", msg))
}

func (u *UI) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	sess := sessionOf(r)
	u.render(w, r, code, "error", sess, errorPage(sess, code, http.StatusText(code), msg))
}

// errorPage is what error.html gets: Home is the user's start page (none
// without a session or a page the role may see).
func errorPage(sess *Session, code int, title, msg string) map[string]any {
	home := ""
	if sess != nil {
		home = homeOf(sess.Roles)
	}
	return map[string]any{"Code": code, "Title": title, "Message": msg, "Home": home}
}

// page is what layout.html gets.
type page struct {
	Session *Session
	Tab     string
	Flash   string
	Kind    string
	Tenants []tenantChoice
	Data    any
}

type tenantChoice struct{ ID, Name string }

func (p page) Can(r string) bool { return p.Session != nil && Can(p.Session.Roles, Right(r)) }

func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, name string, sess *Session, data any) {
	t := u.pages[name]
	if t == nil {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	p := page{Session: sess, Tab: name, Data: data}
	if sess != nil && sess.Flash != "" {
		p.Flash, p.Kind = sess.Flash, sess.FlashKind
		sess.Flash, sess.FlashKind = "", ""
		if err := u.sessions.update(r.Context(), sess); err != nil {
			slog.Warn("could not clear a UI message", "err", err)
		}
	}
	if sess != nil && Can(sess.Roles, PickTenant) {
		p.Tenants = u.tenantChoices(r.Context())
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := t.Execute(w, p); err != nil {
		slog.Error("UI page failed", "page", name, "err", err)
	}
}

// flash leaves a message for the next page and redirects there.
func (u *UI) flash(w http.ResponseWriter, r *http.Request, kind, msg, to string) {
	sess := sessionOf(r)
	sess.Flash, sess.FlashKind = msg, kind
	if err := u.sessions.update(r.Context(), sess); err != nil {
		slog.Warn("could not keep a UI message", "err", err)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (u *UI) tenantChoices(ctx context.Context) []tenantChoice {
	var out []tenantChoice
	for id := range u.d.Settings.All() {
		name := id
		if t, err := u.d.Tenants.ByID(ctx, id); err == nil && t.Name != "" {
			name = t.Name
		}
		out = append(out, tenantChoice{ID: id, Name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// services returns the services of the session's tenant the user may
// see, sorted; the segmentation is re-checked every servicesTTL.
func (u *UI) services(ctx context.Context, sess *Session) []string {
	all := u.d.Settings.Table(sess.Tenant).Names()
	sort.Strings(all)
	if sess.DevOps || u.d.Permissions == nil {
		return all
	}
	now := u.d.Clock.Now()
	if now.Sub(sess.ServicesAt) > servicesTTL {
		var visible []string
		failed := false
		for _, svc := range all {
			for _, g := range sess.Groups {
				ok, err := u.d.Permissions.CanRead(ctx, sess.Tenant, g, svc)
				if err != nil {
					failed = true
					slog.Warn("could not check a VQ permission", "group", g, "service", svc, "err", err)
					continue
				}
				if ok {
					visible = append(visible, svc)
					break
				}
			}
		}
		if !failed || sess.ServicesAt.IsZero() {
			sess.Services, sess.ServicesAt = visible, now
			if err := u.sessions.update(ctx, sess); err != nil {
				slog.Warn("could not keep the visible services", "err", err)
			}
		}
	}
	var out []string
	for _, s := range all {
		if slices.Contains(sess.Services, s) {
			out = append(out, s)
		}
	}
	return out
}

// servicesTTL is how long a user's visible services are trusted.
const servicesTTL = 30 * time.Second

func (u *UI) canSee(ctx context.Context, sess *Session, service string) bool {
	return slices.Contains(u.services(ctx, sess), service)
}

// maskPhone hides all but the last 4 digits.
func maskPhone(p string) string {
	r := []rune(p)
	if len(r) <= 4 {
		return strings.Repeat("•", len(r))
	}
	return strings.Repeat("•", len(r)-4) + string(r[len(r)-4:])
}

const uiTime = "2006-01-02 15:04:05"

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(uiTime)
	},
	"local":     func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04") },
	"rfc":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":      strings.Join,
	"has":       slices.Contains[[]string, string],
	"add":       func(a, b int) int { return a + b },
	"str":       func(v any) string { return fmt.Sprint(v) },
	"dur":       shortDuration,
	"inputTime": func(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01-02T15:04") },
	"in": func(t time.Time, loc *time.Location) string {
		return t.In(loc).Format("2006-01-02 15:04 MST")
	},
}

// shortDuration renders 24h0m0s as "24h" and 5m0s as "5m".
func shortDuration(d time.Duration) string {
	s := d.String()
	for _, zero := range []string{"0s", "0m"} {
		if len(s) > len(zero) && strings.HasSuffix(s, zero) && s[len(s)-len(zero)-1] >= 'a' {
			s = strings.TrimSuffix(s, zero)
		}
	}
	return s
}
