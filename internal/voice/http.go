package voice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/discovery"
)

// ErrNotFound is returned when ORS does not know the session, or URS the
// virtual queue.
var ErrNotFound = errors.New("not found")

// call sends one request to the first node of the pool that answers,
// moving to the next on a connection failure.
func call(ctx context.Context, pool *discovery.Pool, hc *http.Client, method, path string) (int, []byte, error) {
	nodes, err := pool.Ordered(ctx)
	if err != nil {
		return 0, nil, err
	}
	var last error
	for _, n := range nodes {
		req, err := http.NewRequestWithContext(ctx, method, n.URL+path, nil)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			last = err
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			last = fmt.Errorf("%s answered %s", n.URL, resp.Status)
			continue
		}
		return resp.StatusCode, body, err
	}
	return 0, nil, last
}

// ORS is the Orchestration Server's session HTTP API.
type ORS struct {
	Pool   *discovery.Pool
	Client *http.Client
}

func (o *ORS) session(ctx context.Context, method, sid, op string) (map[string]any, error) {
	code, body, err := call(ctx, o.Pool, o.Client, method, "/scxml/session/"+url.PathEscape(sid)+"/"+op)
	if err != nil {
		return nil, err
	}
	if code == http.StatusNotFound {
		return nil, ErrNotFound
	}
	if code >= 300 {
		return nil, fmt.Errorf("ORS %s answered %d", op, code)
	}
	out := map[string]any{}
	if len(strings.TrimSpace(string(body))) > 0 {
		_ = json.Unmarshal(body, &out) // ORS bodies vary; an empty map is fine
	}
	return out, nil
}

// Terminate ends a session (a cancelled callback).
func (o *ORS) Terminate(ctx context.Context, sid string) error {
	_, err := o.session(ctx, http.MethodPost, sid, "terminate")
	return err
}

// Request sends a named request to a session and returns its answer.
func (o *ORS) Request(ctx context.Context, sid, name string) (map[string]any, error) {
	return o.session(ctx, http.MethodPost, sid, "request/"+url.PathEscape(name))
}

// Query returns a session's data (diagnostics).
func (o *ORS) Query(ctx context.Context, sid string) (map[string]any, error) {
	return o.session(ctx, http.MethodGet, sid, "query")
}

// URS is the Universal Routing Server's web API.
type URS struct {
	Pool   *discovery.Pool
	Client *http.Client
	TTL    time.Duration // how long an estimate is reused
	Clock  clock.Clock   // nil: the wall clock

	once  sync.Once
	cache *expirable.LRU[string, cachedEstimate]
}

// Bounds of the estimates kept: virtual queue names come from API
// clients, and a made-up name is cached too (URS' "unknown"); a name
// longer than any real one is asked for but not kept.
const (
	maxEstimates   = 4096
	maxEstimateKey = 512
)

type cachedEstimate struct {
	e   Estimate
	err error
	exp time.Time
}

// Estimate is URS' view of a virtual queue.
type Estimate struct {
	EWT      int // seconds; -1 unknown
	Position int // of the newest interaction; 0 unknown
	NoAgents bool
}

// AQT maps the Engagement API's EWT modes to URS' handling-time models.
var AQT = map[string]string{"mode1": "urs", "mode2": "urs2", "mode3": "stat"}

// LVQ asks URS for the wait in a virtual queue.
func (u *URS) LVQ(ctx context.Context, tenant, vq, aqt string) (Estimate, error) {
	key := tenant + "\x00" + vq + "\x00" + aqt
	// The LRU drops entries after TTL on the wall clock; exp decides on
	// u's clock.
	if len(key) > maxEstimateKey {
		return u.lvq(ctx, tenant, vq, aqt)
	}
	u.once.Do(func() { u.cache = expirable.NewLRU[string, cachedEstimate](maxEstimates, nil, u.TTL) })
	now := u.now()
	if c, ok := u.cache.Get(key); ok && now.Before(c.exp) {
		return c.e, c.err
	}
	e, err := u.lvq(ctx, tenant, vq, aqt)
	if err == nil || errors.Is(err, ErrNotFound) {
		u.cache.Add(key, cachedEstimate{e, err, now.Add(u.TTL)})
	}
	return e, err
}

func (u *URS) now() time.Time {
	if u.Clock == nil {
		return clock.System{}.Now()
	}
	return u.Clock.Now()
}

func (u *URS) lvq(ctx context.Context, tenant, vq, aqt string) (Estimate, error) {
	q := url.Values{"aqt": {aqt}}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	code, body, err := call(ctx, u.Pool, u.Client, http.MethodGet, "/urs/call/max/lvq/"+url.PathEscape(vq)+"?"+q.Encode())
	if err != nil {
		return Estimate{EWT: -1}, err
	}
	if code == http.StatusNotFound {
		return Estimate{EWT: -1}, ErrNotFound
	}
	var r struct {
		EWT  *float64 `json:"ewt"`
		Pos  int      `json:"pos"`
		WPos int      `json:"wpos"`
	}
	if code >= 300 || json.Unmarshal(body, &r) != nil {
		return Estimate{EWT: -1}, fmt.Errorf("URS answered %d", code)
	}
	e := Estimate{EWT: -1, Position: r.Pos}
	switch {
	case r.EWT == nil:
	case *r.EWT < 0:
		e.NoAgents = true
	default:
		e.EWT = int(*r.EWT + 0.5)
	}
	return e, nil
}
