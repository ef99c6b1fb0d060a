package httpapi

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/gesgo/ges/internal/gws"
)

// Limits are the abuse limits of the external API (config.LimitsConfig).
// Rates are per second and per node; 0 turns a limit off.
type Limits struct {
	TenantRate  float64
	TenantBurst int
	KeyRate     float64
	KeyBurst    int
	// KeyFailuresPerMinute unknown API keys are looked up per client
	// address and minute; past them, keys GES does not know already are
	// refused with 429 without a lookup.
	KeyFailuresPerMinute int
	// TrustedProxies are the peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// CORSOrigins may call the API from browser pages ("*": any; none:
	// no cross-origin calls); CORSMaxAge is how long a preflight holds.
	CORSOrigins []string
	CORSMaxAge  time.Duration
}

// knownKeys is what a Tenants can also do: tell a key it knows without
// asking GWS (gws.Environment).
type knownKeys interface {
	KnownAPIKey(key string) (*gws.Tenant, bool)
}

// maxLimited bounds each set of buckets: the tenants and keys are real
// ones (they passed the key check), the addresses anybody's; the least
// recently seen are forgotten first.
const maxLimited = 10000

// buckets are token buckets by key, kept in a bounded LRU. They are per
// node: a create costs no Redis command (issue 12's budget), at the price
// of a deployment-wide limit of replicas × the rate.
type buckets struct {
	name  string
	limit rate.Limit
	burst int
	lru   *lru.Cache[string, *rate.Limiter]
}

func newBuckets(name string, perSecond float64, burst int) *buckets {
	if perSecond <= 0 {
		return nil
	}
	c, _ := lru.New[string, *rate.Limiter](maxLimited)
	return &buckets{name: name, limit: rate.Limit(perSecond), burst: max(burst, 1), lru: c}
}

func (b *buckets) of(key string) *rate.Limiter {
	if l, ok := b.lru.Get(key); ok {
		return l
	}
	l := rate.NewLimiter(b.limit, b.burst)
	if prev, found, _ := b.lru.PeekOrAdd(key, l); found {
		return prev
	}
	return l
}

// empty tells whether key's bucket has no token left, and how long until
// one, without spending any.
func (b *buckets) empty(key string, now time.Time) (time.Duration, bool) {
	if b == nil {
		return 0, false
	}
	l, ok := b.lru.Get(key)
	if !ok {
		return 0, false
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - tokens) / float64(b.limit) * float64(time.Second)), true
}

// spend takes a token whether or not one is left (the bucket may go
// below zero only down to its burst's worth of debt, as rate.Limiter has
// no debt: it stays empty).
func (b *buckets) spend(key string, now time.Time) {
	if b != nil {
		b.of(key).AllowN(now, 1)
	}
}

// policy is the bucket's RateLimit-Policy item (draft-ietf-httpapi-
// ratelimit-headers): quota q in a window w of the seconds a full
// bucket takes to refill.
func (b *buckets) policy() string {
	w := max(int(math.Ceil(float64(b.burst)/float64(b.limit))), 1)
	return fmt.Sprintf("%q;q=%d;w=%d", b.name, b.burst, w)
}

// limiters are the external API's limits in force.
type limiters struct {
	tenant, key, failures *buckets
	trusted               []netip.Prefix
	origins               map[string]bool
	anyOrigin             bool
	maxAge                string
}

func newLimiters(l Limits) *limiters {
	x := &limiters{
		tenant:   newBuckets("tenant", l.TenantRate, l.TenantBurst),
		key:      newBuckets("api-key", l.KeyRate, l.KeyBurst),
		failures: newBuckets("invalid-api-key", float64(l.KeyFailuresPerMinute)/60, l.KeyFailuresPerMinute),
		trusted:  l.TrustedProxies,
		origins:  map[string]bool{},
	}
	for _, o := range l.CORSOrigins {
		if o == "*" {
			x.anyOrigin = true
		}
		x.origins[strings.ToLower(o)] = true
	}
	if l.CORSMaxAge > 0 {
		x.maxAge = strconv.Itoa(int(l.CORSMaxAge.Seconds()))
	}
	return x
}

func (l *limiters) isTrusted(a netip.Addr) bool {
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client is the address the failed-key throttle counts by: the peer, or,
// when the peer is a trusted proxy, the right-most address of
// X-Forwarded-For that is not a trusted proxy (what a proxy appended, not
// what a client wrote before it). IPv6 clients count by their /64, which
// one host may fill with addresses.
func (l *limiters) client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if l.isTrusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: nothing before it can be trusted
			}
			addr = a.Unmap()
			if !l.isTrusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// throttled answers 429 in the external envelope with Retry-After and the
// RateLimit fields of the bucket that refused.
func (x *external) throttled(w http.ResponseWriter, r *http.Request, b *buckets, retry time.Duration, msg string) {
	secs := max(int(math.Ceil(retry.Seconds())), 1)
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("RateLimit-Policy", b.policy())
	h.Set("RateLimit", fmt.Sprintf("%q;r=0;t=%d", b.name, secs))
	x.fail(w, r, http.StatusTooManyRequests, msg, nil)
}

// keyAllowed tells whether key may be looked up for the client at addr:
// always when GES knows the key already (no GWS call), otherwise while
// the address has not used up its failures.
func (x *external) keyAllowed(w http.ResponseWriter, r *http.Request, addr, key string) bool {
	l := x.limits
	if l.failures == nil {
		return true
	}
	if k, ok := x.Tenants.(knownKeys); ok {
		if _, known := k.KnownAPIKey(key); known {
			return true
		}
	}
	if retry, empty := l.failures.empty(addr, x.Clock.Now()); empty {
		x.throttled(w, r, l.failures, retry, "Too many requests with an invalid API key from this address; retry later")
		return false
	}
	return true
}

// keyFailed counts an unknown key against the client's address.
func (x *external) keyFailed(addr string) {
	x.limits.failures.spend(addr, x.Clock.Now())
}

// limitCreates spends a token of the tenant's and of the key's bucket on
// each create (callbacks and call-in requests); a create either bucket
// refuses spends neither.
func (x *external) limitCreates(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := x.Clock.Now()
		var taken []*rate.Reservation
		for _, c := range []struct {
			b   *buckets
			key string
			msg string
		}{
			{x.limits.key, strings.TrimSpace(r.Header.Get("x-api-key")), "Too many creates with this API key; retry later"},
			{x.limits.tenant, info(r.Context()).tenant, "Too many creates for this contact center; retry later"},
		} {
			if c.b == nil {
				continue
			}
			res := c.b.of(c.key).ReserveN(now, 1)
			if d := res.DelayFrom(now); !res.OK() || d > 0 {
				res.CancelAt(now)
				for _, t := range taken {
					t.CancelAt(now)
				}
				if !res.OK() {
					d = time.Minute
				}
				x.throttled(w, r, c.b, d, c.msg)
				return
			}
			taken = append(taken, res)
		}
		next.ServeHTTP(w, r)
	})
}

// exposed are the answer headers browser scripts may read: the
// throttling ones, and the statistics answer's age.
const exposed = "Retry-After, RateLimit, RateLimit-Policy, Age"

// cors answers browsers for the origins configured: the origin (or * when
// any is allowed) in Access-Control-Allow-Origin, Vary: Origin, the
// headers scripts may read, and preflights with what the published JS
// client sends. Other origins get no CORS header (their preflight 403),
// so their pages cannot read answers; tools that send no Origin are not
// concerned.
func (x *external) cors(next http.Handler) http.Handler {
	l := x.limits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := r.Header.Get("Origin")
		h := w.Header()
		if !l.anyOrigin && len(l.origins) > 0 {
			h.Add("Vary", "Origin")
		}
		preflight := r.Method == http.MethodOptions && o != "" && r.Header.Get("Access-Control-Request-Method") != ""
		allowed := o != "" && (l.anyOrigin || l.origins[strings.ToLower(o)])
		if !allowed {
			if preflight {
				info(r.Context()).path = unmatchedPath
				x.fail(w, r, http.StatusForbidden, "Cross-origin requests from this origin are not allowed", nil)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if l.anyOrigin {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", o)
		}
		h.Set("Access-Control-Expose-Headers", exposed)
		if preflight {
			h.Set("Access-Control-Allow-Headers", "x-api-key, content-type, cache-control")
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			if l.maxAge != "" {
				h.Set("Access-Control-Max-Age", l.maxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
