// Package gws talks to Genesys Web Services: the Environment service that
// maps API keys to contact centers (tenants), with the client-credentials
// token GES gets from GWS Authentication.
package gws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gesgo/ges/internal/clock"
)

// Tenant is a contact center.
type Tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ErrUnknown is returned when GWS does not know the key or id.
var ErrUnknown = errors.New("unknown to GWS Environment")

// Cache bounds. Keys and ids come from unauthenticated clients, so what is
// kept of them is bounded: known answers (real tenants' keys) and unknown
// ones (anybody's guesses) are kept apart, so that a flood of wrong keys
// only evicts other wrong keys. A key longer than any real one is unknown
// without asking GWS.
const (
	maxKnown   = 10000
	maxUnknown = 1024
	maxKeyLen  = 256
)

// Environment resolves API keys and contact-center ids, caching answers
// (known ones for TTL, unknown ones for NegativeTTL, both in bounded LRUs)
// so a burst of requests costs one GWS call.
type Environment struct {
	base        string
	client      *http.Client
	TTL         time.Duration
	NegativeTTL time.Duration
	// Clock ages the cached answers (nil: clock.System).
	Clock clock.Clock
	// Status is told whether each call reached a healthy GWS.
	Status func(ok bool)

	once    sync.Once
	known   *expirable.LRU[string, cached]
	unknown *expirable.LRU[string, cached]

	mu    sync.Mutex
	calls map[string]*call
}

type cached struct {
	t   *Tenant
	exp time.Time
}

type call struct {
	done chan struct{}
	t    *Tenant
	err  error
}

// NewEnvironment returns a client of the Environment service at envURL,
// authenticating with client credentials at authURL.
func NewEnvironment(envURL, authURL, clientID, clientSecret string) *Environment {
	hc := &http.Client{Timeout: 5 * time.Second}
	if clientID != "" {
		cc := clientcredentials.Config{ClientID: clientID, ClientSecret: clientSecret,
			TokenURL: strings.TrimRight(authURL, "/") + "/auth/v3/oauth/token"}
		ctx := context.WithValue(context.Background(), oauth2HTTPClient, hc)
		hc = cc.Client(ctx)
		hc.Timeout = 5 * time.Second
	}
	return &Environment{base: strings.TrimRight(envURL, "/"), client: hc, TTL: time.Minute,
		NegativeTTL: 10 * time.Second, calls: map[string]*call{}}
}

func (e *Environment) now() time.Time {
	if e.Clock == nil {
		return clock.System{}.Now()
	}
	return e.Clock.Now()
}

// ByAPIKey returns the contact center that owns key.
func (e *Environment) ByAPIKey(ctx context.Context, key string) (*Tenant, error) {
	return e.lookup(ctx, "k:"+key, "/environment/v3/contact-centers/api-key/"+url.PathEscape(key))
}

// KnownAPIKey returns the contact center of key when a recent lookup found
// it, without asking GWS (the throttling of wrong keys lets such keys
// through).
func (e *Environment) KnownAPIKey(key string) (*Tenant, bool) {
	if len(key) > maxKeyLen-2 {
		return nil, false
	}
	e.caches()
	if c, ok := e.known.Peek("k:" + key); ok && e.now().Before(c.exp) {
		return c.t, true
	}
	return nil, false
}

// ByID returns the contact center id.
func (e *Environment) ByID(ctx context.Context, id string) (*Tenant, error) {
	return e.lookup(ctx, "i:"+id, "/environment/v3/contact-centers/"+url.PathEscape(id))
}

// caches makes the LRUs once the TTLs are final. They drop entries after
// their TTL on the wall clock; exp decides on e's clock, which tests move.
func (e *Environment) caches() {
	e.once.Do(func() {
		e.known = expirable.NewLRU[string, cached](maxKnown, nil, e.TTL)
		e.unknown = expirable.NewLRU[string, cached](maxUnknown, nil, e.NegativeTTL)
	})
}

func (e *Environment) lookup(ctx context.Context, key, path string) (*Tenant, error) {
	if len(key) > maxKeyLen {
		return nil, ErrUnknown
	}
	e.caches()
	if c, ok := e.known.Get(key); ok && e.now().Before(c.exp) {
		return c.t, nil
	}
	if c, ok := e.unknown.Get(key); ok && e.now().Before(c.exp) {
		return nil, ErrUnknown
	}
	e.mu.Lock()
	if c, ok := e.calls[key]; ok { // one call in flight per key
		e.mu.Unlock()
		select {
		case <-c.done:
			return c.t, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	e.calls[key] = c
	e.mu.Unlock()

	c.t, c.err = e.fetch(ctx, path)
	switch {
	case c.err == nil:
		e.unknown.Remove(key)
		e.known.Add(key, cached{t: c.t, exp: e.now().Add(e.TTL)})
	case errors.Is(c.err, ErrUnknown):
		e.known.Remove(key) // a revoked key
		e.unknown.Add(key, cached{exp: e.now().Add(e.NegativeTTL)})
	}
	e.mu.Lock()
	delete(e.calls, key)
	e.mu.Unlock()
	close(c.done)
	return c.t, c.err
}

func (e *Environment) fetch(ctx context.Context, path string) (*Tenant, error) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, e.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		e.status(false)
		return nil, fmt.Errorf("GWS Environment: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		e.status(true)
		return nil, ErrUnknown
	case resp.StatusCode != http.StatusOK:
		e.status(resp.StatusCode < 500)
		return nil, fmt.Errorf("GWS Environment answered %s", resp.Status)
	}
	var body struct {
		Data Tenant `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GWS Environment: %w", err)
	}
	e.status(true)
	if body.Data.ID == "" {
		return nil, ErrUnknown
	}
	return &body.Data, nil
}

func (e *Environment) status(ok bool) {
	if e.Status != nil {
		e.Status(ok)
	}
}
