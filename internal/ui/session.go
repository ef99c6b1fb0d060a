package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keys of the UI. The cookie value is never stored: the key is its
// SHA-256, so a dump of Redis holds no usable session.
const (
	sessionKeyPrefix = "ges:ui:session:"
	sessionCookie    = "ges_session"
	loginCookie      = "ges_login"
	cookiePath       = "/ges"
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

// sessions keeps sessions in Redis with a sliding idle timeout.
type sessions struct {
	rdb     redis.UniversalClient
	timeout time.Duration
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(id string) string {
	h := sha256.Sum256([]byte(id))
	return sessionKeyPrefix + hex.EncodeToString(h[:])
}

var errNoSession = errors.New("no session")

// create stores a new session and returns it with its id.
func (s *sessions) create(ctx context.Context, sess *Session) error {
	sess.id = randomToken()
	sess.CSRF = randomToken()
	sess.Created = time.Now().UTC()
	return s.save(ctx, sess)
}

func (s *sessions) save(ctx context.Context, sess *Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, sessionKey(sess.id), b, s.timeout).Err()
}

// load returns the session of id; touch restarts its idle timeout.
func (s *sessions) load(ctx context.Context, id string, touch bool) (*Session, error) {
	if id == "" {
		return nil, errNoSession
	}
	var b []byte
	var err error
	if touch {
		b, err = s.rdb.GetEx(ctx, sessionKey(id), s.timeout).Bytes()
	} else {
		b, err = s.rdb.Get(ctx, sessionKey(id)).Bytes()
	}
	if errors.Is(err, redis.Nil) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, errNoSession
	}
	sess.id = id
	return &sess, nil
}

// update saves a changed session, keeping its remaining lifetime.
func (s *sessions) update(ctx context.Context, sess *Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.rdb.SetArgs(ctx, sessionKey(sess.id), b, redis.SetArgs{KeepTTL: true, Mode: "XX"}).Err()
}

func (s *sessions) delete(ctx context.Context, id string) error {
	return s.rdb.Del(ctx, sessionKey(id)).Err()
}

// secure tells whether the browser reached us over TLS, directly or
// through a proxy that terminates it.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// baseURL is how the browser reaches this GES (for the OAuth redirect).
func baseURL(r *http.Request) string {
	scheme := "http"
	if secure(r) {
		scheme = "https"
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = strings.TrimSpace(strings.Split(h, ",")[0])
	}
	return scheme + "://" + host
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
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
