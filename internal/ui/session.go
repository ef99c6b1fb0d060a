package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/clock"
)

// Cookies of the UI. The session cookie's value is the session id, which
// the store never keeps as such. The sign-in cookie is the UI's own; the
// session cookie reaches the whole internal port, as the node's profiles
// (/debug/pprof/) are read with a UI session too.
const (
	sessionCookie = "ges_session"
	loginCookie   = "ges_login"
	cookiePath    = "/ges"
)

// Session is one signed-in user, shared by every node through Redis.
type Session struct {
	id string

	CSRF       string    `json:"csrf"`
	User       string    `json:"user"`
	Name       string    `json:"name"`
	Tenant     string    `json:"tenant"`
	TenantName string    `json:"tenantName"`
	Roles      []Role    `json:"roles"`
	Groups     []string  `json:"groups"`
	DevOps     bool      `json:"devops"`
	Created    time.Time `json:"created"`
	// Services are the services the user may see (line-of-business
	// segmentation); AllServices means no restriction.
	Services    []string  `json:"services"`
	AllServices bool      `json:"allServices"`
	ServicesAt  time.Time `json:"servicesAt"`
	// Flash is a one-time message for the next page (kind: ok or error).
	Flash     string `json:"flash,omitempty"`
	FlashKind string `json:"flashKind,omitempty"`
}

// SessionStore keeps encoded sessions by id, with an expiry
// (redisstore.Sessions).
type SessionStore interface {
	Save(ctx context.Context, id string, body []byte, ttl time.Duration) error
	// Load returns the body and whether the session exists; touch > 0
	// restarts its expiry at that much.
	Load(ctx context.Context, id string, touch time.Duration) ([]byte, bool, error)
	// Update replaces the body and keeps the remaining lifetime; it fails
	// when the session is gone.
	Update(ctx context.Context, id string, body []byte) error
	Delete(ctx context.Context, id string) error
}

// sessions keeps sessions, shared by every node, with a sliding idle
// timeout and an absolute lifetime from the sign-in.
type sessions struct {
	store    SessionStore
	clock    clock.Clock
	timeout  time.Duration
	lifetime time.Duration // 0: no absolute end
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errNoSession = errors.New("no session")

// errSessionOver is a session that reached its absolute lifetime; it is
// also errNoSession.
var errSessionOver = fmt.Errorf("%w: the session reached its lifetime", errNoSession)

// create stores a new session and returns it with its id.
func (s *sessions) create(ctx context.Context, sess *Session) error {
	sess.id = randomToken()
	sess.CSRF = randomToken()
	sess.Created = s.clock.Now().UTC()
	return s.save(ctx, sess)
}

func (s *sessions) save(ctx context.Context, sess *Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.store.Save(ctx, sess.id, b, s.ttl(sess))
}

// ttl is the expiry a session's record gets when saved: the idle timeout,
// never past the end of its lifetime.
func (s *sessions) ttl(sess *Session) time.Duration {
	d := s.timeout
	if s.lifetime > 0 {
		d = min(d, max(sess.Created.Add(s.lifetime).Sub(s.clock.Now()), time.Second))
	}
	return d
}

// load returns the session of id; touch restarts its idle timeout.
func (s *sessions) load(ctx context.Context, id string, touch bool) (*Session, error) {
	if id == "" {
		return nil, errNoSession
	}
	var keepAlive time.Duration
	if touch {
		keepAlive = s.timeout
	}
	b, found, err := s.store.Load(ctx, id, keepAlive)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNoSession
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, errNoSession
	}
	sess.id = id
	// However active, a session ends its lifetime after the sign-in (the
	// idle touch above may have kept its record a little longer).
	if s.lifetime > 0 && !s.clock.Now().Before(sess.Created.Add(s.lifetime)) {
		_ = s.store.Delete(ctx, id)
		return nil, errSessionOver
	}
	return &sess, nil
}

// update saves a changed session, keeping its remaining lifetime.
func (s *sessions) update(ctx context.Context, sess *Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, sess.id, b)
}

func (s *sessions) delete(ctx context.Context, id string) error {
	return s.store.Delete(ctx, id)
}

// secure tells whether the browser reached us over TLS, directly or
// through a proxy that terminates it.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	path := cookiePath
	if name == sessionCookie {
		path = "/"
		// A session cookie an earlier version scoped to the UI would be
		// sent first on UI pages and hide this one: it goes.
		http.SetCookie(w, &http.Cookie{Name: name, Path: cookiePath, MaxAge: -1,
			HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// sameOrigin refuses a state change a browser says comes from another
// site. Browsers send Origin on every POST; its absence (old clients,
// curl) leaves the decision to the anti-forgery token.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = strings.TrimSpace(strings.Split(h, ",")[0])
	}
	return strings.EqualFold(u.Host, host)
}
