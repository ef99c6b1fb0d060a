package gws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/credentials"
)

// Statistics cache bounds: an answer is kept CacheTTL and served while
// younger than the caller's max-age, which is at least MinMaxAge.
const (
	MinMaxAge     = 15 * time.Second
	DefaultMaxAge = MinMaxAge
	CacheTTL      = 5 * time.Minute
	// maxCached bounds the entries one node keeps.
	maxCached = 10000
	// maxAnswer bounds a GWS Statistics answer.
	maxAnswer = 8 << 20
)

// StatisticsPath is the GWS Statistics v3 "peek several statistics" operation.
const StatisticsPath = "/statistics/v3/operations/get-statistic-ex"

// Errors of Statistics.Get.
var (
	// ErrNoCredentials: the tenant stored no GWS client credentials.
	ErrNoCredentials = errors.New("GWS credentials not configured")
	// ErrRejected: GWS refused the tenant's credentials (or their token).
	ErrRejected = errors.New("GWS refused the stored credentials")
	// ErrGWSUnavailable: GWS Auth or Statistics failed (5xx) or could not
	// be reached.
	ErrGWSUnavailable = errors.New("GWS Statistics is unavailable")
)

// RequestError is a GWS refusal of the statistics request itself (a 4xx
// other than an authentication failure).
type RequestError struct {
	Status  int
	Message string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("GWS Statistics refused the request (%d): %s", e.Status, e.Message)
}

// CredentialReader reads a tenant's stored credentials (credentials.Store).
type CredentialReader interface {
	Get(ctx context.Context, tenant, kind string) ([]byte, time.Time, error)
}

// ClientCredentials is the value of the "gws" credentials kind.
type ClientCredentials struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// CheckCredentials validates a "gws" credentials value before it is stored.
func CheckCredentials(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var c ClientCredentials
	if err := d.Decode(&c); err != nil {
		return fmt.Errorf(`Expected GWS credentials {"clientId":"...","clientSecret":"..."}: %v`, err)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		return errors.New("clientId is required")
	}
	if c.ClientSecret == "" {
		return errors.New("clientSecret is required")
	}
	return nil
}

// Statistics proxies GWS Statistics for tenants: it authenticates with the
// client credentials each tenant stored (client-credentials grant) and
// keeps answers per tenant, credentials and request body for CacheTTL.
type Statistics struct {
	authURL, statsURL string
	creds             CredentialReader
	client            *http.Client
	// Clock ages the cached answers (nil: clock.System).
	Clock clock.Clock

	group singleflight.Group

	mu     sync.Mutex
	tokens map[string]tenantToken
	cache  map[string]statEntry
	swept  time.Time
}

type tenantToken struct {
	fingerprint string
	ts          oauth2.TokenSource
}

type statEntry struct {
	data json.RawMessage
	at   time.Time
}

// NewStatistics returns a proxy of the Statistics service at statsURL,
// getting tokens from GWS Auth at authURL.
func NewStatistics(authURL, statsURL string, creds CredentialReader) *Statistics {
	return &Statistics{
		authURL: strings.TrimRight(authURL, "/"), statsURL: strings.TrimRight(statsURL, "/"),
		creds: creds, client: &http.Client{Timeout: 10 * time.Second},
		tokens: map[string]tenantToken{}, cache: map[string]statEntry{},
	}
}

func (s *Statistics) now() time.Time {
	if s.Clock == nil {
		return clock.System{}.Now()
	}
	return s.Clock.Now()
}

// Get answers a statistics request of the tenant: the cached answer when it
// is younger than maxAge (clamped to [MinMaxAge, CacheTTL]), else a fresh
// one from GWS. body is the caller's JSON object, possibly empty. It
// returns the answer's data object and its age.
func (s *Statistics) Get(ctx context.Context, tenant string, body []byte, maxAge time.Duration) (json.RawMessage, time.Duration, error) {
	maxAge = min(max(maxAge, MinMaxAge), CacheTTL)
	cc, err := s.credentials(ctx, tenant)
	if err != nil {
		return nil, 0, err
	}
	// The body's digest, not the body, is kept: a key is then a few bytes
	// whatever the caller sent.
	digest := sha256.Sum256([]byte(canonical(body)))
	key := tenant + "\x00" + cc.fingerprint() + "\x00" + hex.EncodeToString(digest[:])
	if e, ok := s.cached(key); ok && s.now().Sub(e.at) < maxAge {
		return e.data, s.now().Sub(e.at), nil
	}
	// Identical requests in flight share one GWS call; it is not cancelled
	// when one of the callers goes away.
	v, err, _ := s.group.Do(key, func() (any, error) {
		if e, ok := s.cached(key); ok && s.now().Sub(e.at) < maxAge {
			return e, nil
		}
		data, err := s.fetch(context.WithoutCancel(ctx), tenant, cc, body)
		if err != nil {
			return nil, err
		}
		e := statEntry{data: data, at: s.now()}
		s.store(key, e)
		return e, nil
	})
	if err != nil {
		return nil, 0, err
	}
	e := v.(statEntry)
	return e.data, max(s.now().Sub(e.at), 0), nil
}

func (c ClientCredentials) fingerprint() string {
	h := sha256.Sum256([]byte(c.ClientID + "\x00" + c.ClientSecret))
	return hex.EncodeToString(h[:12])
}

// canonical is the cache form of a body: compact JSON, "{}" when empty.
func canonical(body []byte) string {
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, t) != nil {
		return string(t)
	}
	return b.String()
}

func (s *Statistics) credentials(ctx context.Context, tenant string) (ClientCredentials, error) {
	var cc ClientCredentials
	b, _, err := s.creds.Get(ctx, tenant, credentials.GWS)
	if errors.Is(err, credentials.ErrNotFound) || errors.Is(err, credentials.ErrNoKey) {
		return cc, ErrNoCredentials
	}
	if err != nil {
		return cc, fmt.Errorf("reading the tenant's GWS credentials: %w", err)
	}
	if json.Unmarshal(b, &cc) != nil || cc.ClientID == "" {
		return cc, ErrNoCredentials
	}
	return cc, nil
}

func (s *Statistics) cached(key string) (statEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cache[key]
	if ok && s.now().Sub(e.at) >= CacheTTL {
		delete(s.cache, key)
		return e, false
	}
	return e, ok
}

func (s *Statistics) store(key string, e statEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.swept) > time.Minute || len(s.cache) >= maxCached {
		for k, old := range s.cache {
			if now.Sub(old.at) >= CacheTTL {
				delete(s.cache, k)
			}
		}
		s.swept = now
	}
	if len(s.cache) < maxCached {
		s.cache[key] = e
	}
}

// tokenSource returns the tenant's token source for these credentials.
// fresh drops a cached token first (GWS refused it).
func (s *Statistics) tokenSource(tenant string, cc ClientCredentials, fresh bool) oauth2.TokenSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	fp := cc.fingerprint()
	if t, ok := s.tokens[tenant]; ok && t.fingerprint == fp && !fresh {
		return t.ts
	}
	conf := clientcredentials.Config{ClientID: cc.ClientID, ClientSecret: cc.ClientSecret,
		TokenURL: s.authURL + "/auth/v3/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}
	// The source outlives the request: it keeps the token until it expires.
	ts := conf.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, s.client))
	s.tokens[tenant] = tenantToken{fingerprint: fp, ts: ts}
	return ts
}

func (s *Statistics) token(tenant string, cc ClientCredentials, fresh bool) (string, error) {
	tok, err := s.tokenSource(tenant, cc, fresh).Token()
	if err == nil {
		return tok.AccessToken, nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		switch re.Response.StatusCode {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
			return "", fmt.Errorf("%w: GWS Auth answered %s", ErrRejected, re.Response.Status)
		}
		return "", fmt.Errorf("%w: GWS Auth answered %s", ErrGWSUnavailable, re.Response.Status)
	}
	return "", fmt.Errorf("%w: GWS Auth: %v", ErrGWSUnavailable, err)
}

// fetch asks GWS, with one retry on a fresh token when the cached one is
// refused.
func (s *Statistics) fetch(ctx context.Context, tenant string, cc ClientCredentials, body []byte) (json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		tok, err := s.token(tenant, cc, attempt > 0)
		if err != nil {
			return nil, err
		}
		status, answer, err := s.post(ctx, tok, body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrGWSUnavailable, err)
		}
		switch {
		case status == http.StatusOK:
			return dataOf(answer), nil
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			if attempt == 0 {
				continue
			}
			return nil, fmt.Errorf("%w: GWS Statistics answered %d", ErrRejected, status)
		case status >= 500:
			return nil, fmt.Errorf("%w: GWS Statistics answered %d: %s", ErrGWSUnavailable, status, messageOf(answer))
		default:
			return nil, &RequestError{Status: status, Message: messageOf(answer)}
		}
	}
}

func (s *Statistics) post(ctx context.Context, token string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.statsURL+StatisticsPath, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// dataOf turns a GWS answer into the proxy's data object: GWS's own data
// object (with GWS's per-statistic errors, if any, under "errors"), the
// whole answer when it has none, and always a JSON object.
func dataOf(answer []byte) json.RawMessage {
	var top map[string]json.RawMessage
	if json.Unmarshal(answer, &top) != nil || top == nil {
		if len(bytes.TrimSpace(answer)) == 0 || !json.Valid(answer) {
			return json.RawMessage(`{}`)
		}
		b, _ := json.Marshal(map[string]json.RawMessage{"value": answer})
		return b
	}
	var data map[string]json.RawMessage
	if raw, ok := top["data"]; ok && json.Unmarshal(raw, &data) == nil && data != nil {
		if errs, ok := top["errors"]; ok {
			if _, taken := data["errors"]; !taken {
				data["errors"] = errs
			}
		}
		b, _ := json.Marshal(data)
		return b
	}
	delete(top, "status")
	b, _ := json.Marshal(top)
	return b
}

// messageOf reads status.message (GWS envelope) or error_description/error.
func messageOf(answer []byte) string {
	var a struct {
		Status struct {
			Message string `json:"message"`
		} `json:"status"`
		Error       any    `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(answer, &a) == nil {
		switch {
		case a.Status.Message != "":
			return a.Status.Message
		case a.Description != "":
			return a.Description
		case a.Error != nil:
			return fmt.Sprint(a.Error)
		}
	}
	s := strings.TrimSpace(string(answer))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
