// Package captcha verifies CAPTCHA answers (reCAPTCHA response tokens) with
// the siteverify protocol, using the switch and secret each tenant stored
// as "captcha" credentials.
package captcha

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/credentials"
)

// DefaultVerifyURL is Google's reCAPTCHA siteverify endpoint.
const DefaultVerifyURL = "https://www.google.com/recaptcha/api/siteverify"

// SettingsTTL is how long a node keeps a tenant's CAPTCHA settings: a
// change reaches every node within it.
const SettingsTTL = 5 * time.Second

// Error codes of a siteverify answer.
const (
	codeMissingSecret = "missing-input-secret"
	codeInvalidSecret = "invalid-input-secret"
	codeDuplicate     = "timeout-or-duplicate"
)

// Settings is the value of the "captcha" credentials kind.
type Settings struct {
	Enabled bool   `json:"enabled"`
	Secret  string `json:"secret"`
}

// CheckCredentials validates a "captcha" credentials value before it is
// stored: {"enabled": bool, "secret": "..."}, the secret required when
// enabled.
func CheckCredentials(b []byte) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return errors.New(`Expected CAPTCHA settings {"enabled":true,"secret":"..."}`)
	}
	raw, ok := probe["enabled"]
	if !ok {
		return errors.New("enabled is required (true or false)")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var s Settings
	if err := d.Decode(&s); err != nil {
		return fmt.Errorf(`Expected CAPTCHA settings {"enabled":true,"secret":"..."}: %v`, err)
	}
	if string(raw) == "null" {
		return errors.New("enabled must be true or false")
	}
	if s.Enabled && strings.TrimSpace(s.Secret) == "" {
		return errors.New("secret is required when enabled is true")
	}
	return nil
}

// SecretReader reads a tenant's stored credentials (credentials.Store).
type SecretReader interface {
	Get(ctx context.Context, tenant, kind string) ([]byte, time.Time, error)
}

// Result is a siteverify answer.
type Result struct {
	Success     bool     `json:"success"`
	ChallengeTS string   `json:"challenge_ts,omitempty"`
	Hostname    string   `json:"hostname,omitempty"`
	Score       *float64 `json:"score,omitempty"`
	Action      string   `json:"action,omitempty"`
	ErrorCodes  []string `json:"error-codes,omitempty"`
}

// Verifier checks tokens against a siteverify endpoint. It never remembers
// a successful answer: the verifier makes each token single-use.
type Verifier struct {
	url     string
	secrets SecretReader
	client  *http.Client
	// Clock ages the cached settings (nil: clock.System).
	Clock clock.Clock

	mu    sync.Mutex
	cache map[string]cachedSettings
}

type cachedSettings struct {
	s      Settings
	stored bool
	at     time.Time
}

// New returns a verifier calling verifyURL with the tenants' secrets.
func New(verifyURL string, secrets SecretReader) *Verifier {
	return &Verifier{url: verifyURL, secrets: secrets, client: &http.Client{Timeout: 5 * time.Second},
		cache: map[string]cachedSettings{}}
}

func (v *Verifier) now() time.Time {
	if v.Clock == nil {
		return clock.System{}.Now()
	}
	return v.Clock.Now()
}

// Settings returns the tenant's CAPTCHA settings and whether any are
// stored (none: CAPTCHA off).
func (v *Verifier) Settings(ctx context.Context, tenant string) (Settings, bool, error) {
	v.mu.Lock()
	c, ok := v.cache[tenant]
	v.mu.Unlock()
	if ok && v.now().Sub(c.at) < SettingsTTL {
		return c.s, c.stored, nil
	}
	stale, hadStale := c, ok
	c = cachedSettings{at: v.now()}
	b, _, err := v.secrets.Get(ctx, tenant, credentials.Captcha)
	switch {
	case errors.Is(err, credentials.ErrNotFound), errors.Is(err, credentials.ErrNoKey):
	case err != nil && hadStale:
		// The store is unreachable: the last known setting decides rather
		// than refusing every booking (which then fails on its own write
		// if the store is really down).
		return stale.s, stale.stored, nil
	case err != nil:
		return Settings{}, false, err
	default:
		if err := json.Unmarshal(b, &c.s); err != nil {
			return Settings{}, false, fmt.Errorf("stored CAPTCHA settings: %w", err)
		}
		c.stored = true
	}
	v.mu.Lock()
	v.cache[tenant] = c
	v.mu.Unlock()
	return c.s, c.stored, nil
}

// Verify asks the verifier about one token. An error means no usable
// answer (unreachable, not 200, not JSON).
func (v *Verifier) Verify(ctx context.Context, secret, token, remoteIP string) (*Result, error) {
	form := url.Values{"secret": {secret}, "response": {token}}
	if remoteIP != "" {
		form.Set("remoteip", remoteIP)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CAPTCHA verifier answered %s", resp.Status)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("CAPTCHA verifier answer: %w", err)
	}
	return &r, nil
}

// CheckCaptcha implements callback.CaptchaChecker.
func (v *Verifier) CheckCaptcha(ctx context.Context, tenant, token string) error {
	s, _, err := v.Settings(ctx, tenant)
	if err != nil {
		return &callback.Error{Kind: callback.KindUnavailable, Msg: "CAPTCHA settings cannot be read, try again", Err: err}
	}
	if !s.Enabled {
		return nil
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return callback.Errorf(callback.KindInvalid, "captchaToken is required")
	}
	r, err := v.Verify(ctx, s.Secret, token, "")
	if err != nil {
		return &callback.Error{Kind: callback.KindUnavailable, Msg: "CAPTCHA verification is unavailable, try again", Err: err}
	}
	return Outcome(tenant, r)
}

// Outcome turns a siteverify answer into the booking's verdict.
func Outcome(tenant string, r *Result) error {
	if r.Success {
		return nil
	}
	codes := strings.Join(r.ErrorCodes, ", ")
	for _, c := range r.ErrorCodes {
		switch c {
		case codeMissingSecret, codeInvalidSecret:
			slog.Error("the CAPTCHA verifier refuses the tenant's CAPTCHA secret", "tenant", tenant, "errorCodes", codes)
			return &callback.Error{Kind: callback.KindUnavailable, Msg: "CAPTCHA cannot be verified: the verifier refuses this contact center's CAPTCHA secret",
				Err: errors.New(codes)}
		case codeDuplicate:
			return callback.Errorf(callback.KindInvalid, "Invalid captchaToken: expired or already used (%s)", codes)
		}
	}
	if codes == "" {
		codes = "no reason given"
	}
	return callback.Errorf(callback.KindInvalid, "Invalid captchaToken (%s)", codes)
}
