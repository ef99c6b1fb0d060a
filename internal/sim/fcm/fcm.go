// Package fcm simulates Firebase Cloud Messaging's HTTP v1 API and the
// Google OAuth2 token endpoint a service account's signed JWT is exchanged
// at, so that GES can push through the real Firebase Admin SDK:
//
//	POST /token                                  (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion=JWT)
//	POST /v1/projects/{project}/messages:send    (Authorization: Bearer <token from /token>)
package fcm

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/simhttp"
)

// Paths served.
const (
	TokenPath = "/token"
	SendPath  = "/v1/projects/{project}/messages:send"
	// JWTBearer is the grant type of a service-account assertion (RFC 7523).
	JWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// TokenTTL is the lifetime of an issued access token, as Google's.
const TokenTTL = time.Hour

// maxAssertionLife is the longest exp-iat Google accepts for an assertion.
const maxAssertionLife = time.Hour

// Received is one messages:send request the simulator accepted.
type Received struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"` // what the sender got back
	Project        string            `json:"project"`
	ValidateOnly   bool              `json:"validateOnly"`
	Token          string            `json:"token,omitempty"`
	Topic          string            `json:"topic,omitempty"`
	Condition      string            `json:"condition,omitempty"`
	Data           map[string]string `json:"data,omitempty"`
	Notification   json.RawMessage   `json:"notification,omitempty"`
	Android        json.RawMessage   `json:"android,omitempty"`
	APNS           json.RawMessage   `json:"apns,omitempty"`
	Webpush        json.RawMessage   `json:"webpush,omitempty"`
	FCMOptions     json.RawMessage   `json:"fcmOptions,omitempty"`
	ServiceAccount string            `json:"serviceAccount"` // iss of the JWT the token was obtained with
	ReceivedAt     time.Time         `json:"receivedAt"`
}

// Service is the simulated FCM.
type Service struct {
	cfg  fixture.FCM
	keys map[string]*rsa.PublicKey
	log  *slog.Logger
	now  func() time.Time
	fail simhttp.Failures

	mu       sync.Mutex
	tokens   map[string]issued
	messages []Received
	seq      int64
	counts   Calls
}

type issued struct {
	iss string
	exp time.Time
}

// Calls is the admin view of the requests received.
type Calls struct {
	Sends          int                  `json:"sends"`          // authenticated messages:send calls, failed ones included
	Unauthorized   int                  `json:"unauthorized"`   // messages:send without a valid token
	Tokens         int                  `json:"tokens"`         // tokens issued at /token
	TokensRejected int                  `json:"tokensRejected"` // assertions refused at /token
	Fail           simhttp.FailureState `json:"fail"`
}

// New builds the service from the fixture's fcm section.
func New(cfg fixture.FCM, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{cfg: cfg, keys: map[string]*rsa.PublicKey{}, log: log, now: time.Now, tokens: map[string]issued{}}
	for _, sa := range cfg.ServiceAccounts {
		k, err := sa.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("fcm service account %s: %w", sa.ClientEmail, err)
		}
		s.keys[sa.ClientEmail] = k
	}
	return s, nil
}

// Handler serves the token endpoint and messages:send.
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "", "The requested URL was not found on this server.")
	})
	r.Post(TokenPath, s.token)
	r.Post(SendPath, s.send)
	return r
}

func oauthError(w http.ResponseWriter, code, desc string) {
	simhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

func (s *Service) token(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "malformed form")
		return
	}
	if gt := req.PostForm.Get("grant_type"); gt != JWTBearer {
		oauthError(w, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	iss, err := s.checkAssertion(req.PostForm.Get("assertion"))
	if err != nil {
		s.mu.Lock()
		s.counts.TokensRejected++
		s.mu.Unlock()
		s.log.Info("fcm: rejected assertion", "err", err)
		oauthError(w, "invalid_grant", err.Error())
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := "ya29.sim-" + base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	now := s.now()
	for k, t := range s.tokens {
		if now.After(t.exp) {
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = issued{iss: iss, exp: now.Add(TokenTTL)}
	s.counts.Tokens++
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	simhttp.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int(TokenTTL/time.Second) - 1,
		"token_type":   "Bearer",
	})
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

type jwtClaims struct {
	Iss   string  `json:"iss"`
	Scope string  `json:"scope"`
	Aud   string  `json:"aud"`
	Exp   float64 `json:"exp"`
	Iat   float64 `json:"iat"`
}

// checkAssertion validates a service-account JWT and returns its issuer.
func (s *Service) checkAssertion(assertion string) (string, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 || parts[2] == "" {
		return "", errors.New("Invalid JWT: not a signed JWT")
	}
	var hdr jwtHeader
	var claims jwtClaims
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return "", fmt.Errorf("Invalid JWT header: %v", err)
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "", fmt.Errorf("Invalid JWT payload: %v", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return "", errors.New("Invalid JWT Signature.")
	}
	now := s.now()
	iat, exp := time.Unix(int64(claims.Iat), 0), time.Unix(int64(claims.Exp), 0)
	switch {
	case claims.Iss == "":
		return "", errors.New("Invalid JWT: no iss")
	case claims.Aud == "":
		return "", errors.New("Invalid JWT: no aud")
	case claims.Exp == 0 || claims.Iat == 0:
		return "", errors.New("Invalid JWT: iat and exp are required")
	case !now.Before(exp):
		return "", errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	case exp.Sub(iat) > maxAssertionLife+time.Minute || iat.After(now.Add(5*time.Minute)):
		return "", errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	if len(s.keys) == 0 {
		return claims.Iss, nil
	}
	key, ok := s.keys[claims.Iss]
	if !ok {
		return "", errors.New("Invalid JWT: unknown service account " + claims.Iss)
	}
	if hdr.Alg != "RS256" {
		return "", errors.New("Invalid JWT: alg must be RS256")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return "", errors.New("Invalid JWT Signature.")
	}
	return claims.Iss, nil
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// googleError answers in the shape of Google APIs' errors; fcmCode, when
// set, is the FCM-specific error code the Admin SDK maps to its Is* checks.
func googleError(w http.ResponseWriter, code int, status, fcmCode, msg string) {
	e := map[string]any{"code": code, "message": msg, "status": status}
	if fcmCode != "" {
		e["details"] = []map[string]string{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcmCode}}
	}
	simhttp.WriteJSON(w, code, map[string]any{"error": e})
}

// injected maps an injected HTTP status to FCM's error status and code.
var injected = map[int][3]string{
	http.StatusBadRequest:          {"INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument."},
	http.StatusUnauthorized:        {"UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service"},
	http.StatusForbidden:           {"PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"},
	http.StatusNotFound:            {"NOT_FOUND", "UNREGISTERED", "Requested entity was not found."},
	http.StatusTooManyRequests:     {"RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded."},
	http.StatusInternalServerError: {"INTERNAL", "INTERNAL", "Internal error encountered."},
	http.StatusServiceUnavailable:  {"UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."},
}

// FailStatuses are the statuses /sim/fcm/fail?status= accepts; 500 first,
// the default.
var FailStatuses = []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests,
	http.StatusNotFound, http.StatusForbidden, http.StatusUnauthorized, http.StatusBadRequest}

type sendRequest struct {
	ValidateOnly bool `json:"validate_only"`
	Message      *struct {
		Name         string            `json:"name"`
		Token        string            `json:"token"`
		Topic        string            `json:"topic"`
		Condition    string            `json:"condition"`
		Data         map[string]string `json:"data"`
		Notification json.RawMessage   `json:"notification"`
		Android      json.RawMessage   `json:"android"`
		APNS         json.RawMessage   `json:"apns"`
		Webpush      json.RawMessage   `json:"webpush"`
		FCMOptions   json.RawMessage   `json:"fcm_options"`
	} `json:"message"`
}

func (s *Service) send(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	grant, ok := s.tokens[simhttp.Bearer(req)]
	ok = ok && s.now().Before(grant.exp)
	if !ok {
		s.counts.Unauthorized++
	} else {
		s.counts.Sends++
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if code, failing := s.fail.Take(); failing {
		if code == 0 {
			code = http.StatusInternalServerError
		}
		e := injected[code]
		s.log.Info("fcm: failing on purpose", "status", code)
		googleError(w, code, e[0], e[1], e[2]+" (injected by the simulator)")
		return
	}
	project := chi.URLParam(req, "project")
	if !s.knownProject(project) {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "", "Requested entity was not found.")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", err.Error())
		return
	}
	var body sendRequest
	if err := json.Unmarshal(raw, &body); err != nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	m := body.Message
	if m == nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument: message is required.")
		return
	}
	targets := 0
	for _, t := range []string{m.Token, m.Topic, m.Condition} {
		if t != "" {
			targets++
		}
	}
	if targets != 1 {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument: exactly one of token, topic or condition is required.")
		return
	}
	if m.Token != "" && s.unregistered(m.Token) {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
		return
	}
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("%d%06d", s.now().UnixMilli(), s.seq%1000000)
	r := Received{ID: id, Name: "projects/" + project + "/messages/" + id, Project: project, ValidateOnly: body.ValidateOnly,
		Token: m.Token, Topic: m.Topic, Condition: m.Condition, Data: m.Data, Notification: m.Notification,
		Android: m.Android, APNS: m.APNS, Webpush: m.Webpush, FCMOptions: m.FCMOptions,
		ServiceAccount: grant.iss, ReceivedAt: s.now().UTC()}
	s.messages = append(s.messages, r)
	s.mu.Unlock()
	simhttp.WriteJSON(w, http.StatusOK, map[string]string{"name": r.Name})
}

func (s *Service) knownProject(p string) bool {
	if len(s.cfg.Projects) == 0 {
		return p != ""
	}
	for _, k := range s.cfg.Projects {
		if k == p {
			return true
		}
	}
	return false
}

func (s *Service) unregistered(tok string) bool {
	for _, u := range s.cfg.UnregisteredTokens {
		if u == tok {
			return true
		}
	}
	return false
}

// Messages returns what was accepted so far.
func (s *Service) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received{}, s.messages...)
}

// MountAdmin adds the /sim/fcm/* endpoints to r.
func (s *Service) MountAdmin(r chi.Router) {
	r.Get("/sim/fcm/messages", func(w http.ResponseWriter, _ *http.Request) {
		simhttp.WriteJSON(w, http.StatusOK, s.Messages())
	})
	r.Delete("/sim/fcm/messages", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		s.messages = nil
		s.mu.Unlock()
		simhttp.WriteJSON(w, http.StatusOK, s.Messages())
	})
	r.Get("/sim/fcm/calls", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		c := s.counts
		s.mu.Unlock()
		c.Fail = s.fail.State()
		simhttp.WriteJSON(w, http.StatusOK, c)
	})
	failer := s.fail.HandleSet(FailStatuses...)
	r.Post("/sim/fcm/fail", failer)
	r.Delete("/sim/fcm/fail", failer)
}
