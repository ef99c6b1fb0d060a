// Package captcha simulates Google reCAPTCHA's server-side verification:
//
//	POST /recaptcha/api/siteverify   (form: secret, response, remoteip)
//
// A browser widget cannot run here, so tokens come from the admin API
// instead: each one is valid for TokenTTL and can be verified once, like a
// real reCAPTCHA response token.
package captcha

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/simhttp"
)

// TokenTTL is how long an issued token can be verified.
const TokenTTL = 2 * time.Minute

// VerifyPath is where siteverify is served.
const VerifyPath = "/recaptcha/api/siteverify"

// Error codes of the siteverify answer.
const (
	MissingSecret   = "missing-input-secret"
	InvalidSecret   = "invalid-input-secret"
	MissingResponse = "missing-input-response"
	InvalidResponse = "invalid-input-response"
	BadRequest      = "bad-request"
	Duplicate       = "timeout-or-duplicate"
)

// Answer is siteverify's JSON reply.
type Answer struct {
	Success     bool     `json:"success"`
	ChallengeTS string   `json:"challenge_ts,omitempty"`
	Hostname    string   `json:"hostname,omitempty"`
	Score       *float64 `json:"score,omitempty"`  // reCAPTCHA v3 only
	Action      string   `json:"action,omitempty"` // reCAPTCHA v3 only
	ErrorCodes  []string `json:"error-codes,omitempty"`
}

type token struct {
	issued   time.Time
	exp      time.Time
	hostname string
	action   string
	score    *float64
	used     bool
}

// Service is the simulated reCAPTCHA.
type Service struct {
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	secrets  []string
	hostname string
	tokens   map[string]*token
	calls    int
	success  int
	byError  map[string]int
}

// New serves cfg's secrets.
func New(cfg fixture.Captcha, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	host := cfg.Hostname
	if host == "" {
		host = "localhost"
	}
	return &Service{log: log, now: time.Now, secrets: cfg.AllSecrets(), hostname: host,
		tokens: map[string]*token{}, byError: map[string]int{}}
}

// Handler serves siteverify.
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	r.Post(VerifyPath, s.verify)
	return r
}

func (s *Service) verify(w http.ResponseWriter, req *http.Request) {
	// Google reads the parameters from the form body or the query string.
	if err := req.ParseForm(); err != nil {
		s.answer(w, Answer{ErrorCodes: []string{BadRequest}})
		return
	}
	secret, response := req.Form.Get("secret"), req.Form.Get("response")
	switch {
	case secret == "":
		s.answer(w, Answer{ErrorCodes: []string{MissingSecret}})
		return
	case !s.validSecret(secret):
		s.answer(w, Answer{ErrorCodes: []string{InvalidSecret}})
		return
	case response == "":
		s.answer(w, Answer{ErrorCodes: []string{MissingResponse}})
		return
	}
	s.mu.Lock()
	t, ok := s.tokens[response]
	now := s.now()
	var a Answer
	switch {
	case !ok:
		a.ErrorCodes = []string{InvalidResponse}
	case t.used || !now.Before(t.exp):
		a.ErrorCodes = []string{Duplicate}
	default:
		t.used = true
		a = Answer{Success: true, ChallengeTS: t.issued.UTC().Format(time.RFC3339), Hostname: t.hostname,
			Score: t.score, Action: t.action}
	}
	s.mu.Unlock()
	s.answer(w, a)
}

func (s *Service) answer(w http.ResponseWriter, a Answer) {
	s.mu.Lock()
	s.calls++
	if a.Success {
		s.success++
	}
	for _, e := range a.ErrorCodes {
		s.byError[e]++
	}
	s.mu.Unlock()
	simhttp.WriteJSON(w, http.StatusOK, a)
}

func (s *Service) validSecret(secret string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.secrets {
		if subtle.ConstantTimeCompare([]byte(k), []byte(secret)) == 1 {
			return true
		}
	}
	return false
}

// Issued is the admin answer for a new token.
type Issued struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	Hostname  string    `json:"hostname"`
}

// Issue creates a token as a solved widget would, valid for ttl.
func (s *Service) Issue(hostname, action string, score *float64, ttl time.Duration) Issued {
	var b [30]byte
	_, _ = rand.Read(b[:])
	tok := "sim-" + base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, t := range s.tokens { // expired tokens answer invalid-input-response after a while, as real ones do
		if now.After(t.exp.Add(10 * time.Minute)) {
			delete(s.tokens, k)
		}
	}
	if hostname == "" {
		hostname = s.hostname
	}
	s.tokens[tok] = &token{issued: now, exp: now.Add(ttl), hostname: hostname, action: action, score: score}
	return Issued{Token: tok, ExpiresAt: now.Add(ttl).UTC(), Hostname: hostname}
}

// Calls is the admin view of the verifications received.
type Calls struct {
	Verifications int            `json:"verifications"`
	Success       int            `json:"success"`
	ByError       map[string]int `json:"byError"`
}

// MountAdmin adds the /sim/captcha/* endpoints to r.
func (s *Service) MountAdmin(r chi.Router) {
	r.Post("/sim/captcha/token", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		ttl := TokenTTL
		if v := q.Get("ttlMs"); v != "" {
			ms, err := strconv.Atoi(v)
			if err != nil || ms < 0 {
				simhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "ttlMs must be a non-negative integer"})
				return
			}
			ttl = time.Duration(ms) * time.Millisecond
		}
		var score *float64
		if v := q.Get("score"); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				simhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "score must be within [0,1]"})
				return
			}
			score = &f
		}
		simhttp.WriteJSON(w, http.StatusOK, s.Issue(q.Get("hostname"), q.Get("action"), score, ttl))
	})
	r.Get("/sim/captcha/calls", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		by := make(map[string]int, len(s.byError))
		for k, v := range s.byError {
			by[k] = v
		}
		simhttp.WriteJSON(w, http.StatusOK, Calls{Verifications: s.calls, Success: s.success, ByError: by})
	})
}
