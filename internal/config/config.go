// Package config loads the service configuration from environment variables
// and "config folders" (directories of key files, typically Kubernetes
// secrets mounted as volumes). Folder values win over the environment.
//
// Loading validates everything up front and reports every problem in a single
// line, so a misconfigured pod fails once with the full list instead of
// crash-looping through the errors one at a time.
package config

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration of one process.
type Config struct {
	LogLevel           string   // LOG_LEVEL: DEBUG, INFO, WARN or ERROR
	LogMaxLen          int      // LOG_MAX_LEN
	InternalPort       int      // INTERNAL_PORT
	ExternalPort       int      // EXTERNAL_PORT
	InternalURL        string   // INTERNAL_URL, normalised: how ORS reaches this GES
	RegionAffinity     string   // REGION_AFFINITY
	DevOpsAccessGroups []string // DEVOPS_ACCESS_GROUPS
	UIDevOpsUsername   string   // UI_DEVOPS_USERNAME
	UIDevOpsPassword   string   // UI_DEVOPS_PASSWORD (secret)
	DecryptPassword    string   // DECRYPT_PASSWORD (secret)
	// Service tokens of the admin APIs under /ges/v1, one per deployment
	// (secrets; unset: none). DESIGNER-API-TOKEN lets Designer publish and
	// read data tables, ADMIN-API-TOKEN allows every admin API. A request
	// with a token names its tenant in the ContactCenterId header.
	DesignerAPIToken string
	AdminAPIToken    string

	// UISessionTimeout (UI_SESSION_TIMEOUT: 20m, 90s, or whole minutes)
	// ends a Callback UI session after this much inactivity.
	UISessionTimeout time.Duration
	// UISessionLifetime (UI_SESSION_LIFETIME, 12h) ends a Callback UI
	// session this long after its sign-in, however active.
	UISessionLifetime time.Duration
	// UIPublicURL (UI_PUBLIC_URL) is how browsers reach this GES: the
	// OAuth redirect URI is built from it, never from a request's Host or
	// X-Forwarded-Host. Unset: INTERNAL_URL.
	UIPublicURL string

	// HTTP bounds the requests of both ports.
	HTTP HTTPConfig
	// Limits are the abuse limits of the external API.
	Limits LimitsConfig

	Redis RedisConfig
	DB    DBConfig
	GWS   GWSConfig
	Voice VoiceConfig

	// CaptchaVerifyURL is the reCAPTCHA siteverify endpoint
	// (CAPTCHA_VERIFY_URL; empty when unset: Google's).
	CaptchaVerifyURL string

	ConsulAddr string // CONSUL_HTTP_ADDR
	Region     string // REGION

	// Platform nodes GES calls over HTTP. Consul (when CONSUL_HTTP_ADDR is
	// set) discovers them by service name; ORS_URL and URS_URL (comma
	// lists) name them directly otherwise.
	Platform PlatformConfig

	Monitor       MonitorConfig
	ConfigFolders []string // CONFIG_FOLDERS
}

// PlatformConfig locates ORS and URS nodes.
type PlatformConfig struct {
	ORSURLs, URSURLs         []string // ORS_URL, URS_URL
	ORSService, URSService   string   // ORS_SERVICE_NAME ("ors"), URS_SERVICE_NAME ("urs")
	DiscoveryIntervalSeconds int      // DISCOVERY_INTERVAL_SECONDS (15): health-check cycle
	CredentialsKey           string   // CREDENTIALS-KEY (secret): key of stored tenant credentials
	// FaultInjection (FAULT_INJECTION=true) enables POST /ges/v1/debug/panic,
	// so operators can check that UNCAUGHT_EXCEPTION reaches their alerting.
	FaultInjection   bool
	FCMURL           string // FCM_URL: FCM HTTP v1 API base (Google's by default)
	PushCheckSeconds int    // PUSH_CHECK_SECONDS (30): periodic look at callbacks in queue with push targets
}

// HTTPConfig bounds the HTTP servers of both ports. A bare integer in
// the environment counts seconds.
type HTTPConfig struct {
	// ReadTimeout (HTTP_READ_TIMEOUT, 30s) bounds the reading of a whole
	// request, headers and body: a body trickled slower is cut off.
	ReadTimeout time.Duration
	// WriteTimeout (HTTP_WRITE_TIMEOUT, 60s) bounds a request from the
	// end of its headers to the end of its answer (profiles add their
	// own duration).
	WriteTimeout time.Duration
	// IdleTimeout (HTTP_IDLE_TIMEOUT, 120s) closes kept-alive
	// connections without a request for that long.
	IdleTimeout time.Duration
}

// LimitsConfig holds the abuse limits of the external API. Rates are per
// node and per second; 0 turns a limit off.
type LimitsConfig struct {
	// Creates (callbacks and call-in requests) per tenant
	// (API_CREATE_RATE_TENANT, 200; burst API_CREATE_BURST_TENANT, twice
	// the rate) and per API key (API_CREATE_RATE_KEY, 100;
	// API_CREATE_BURST_KEY).
	TenantRate  float64
	TenantBurst int
	KeyRate     float64
	KeyBurst    int
	// KeyFailuresPerMinute (API_KEY_FAILURES_PER_MINUTE, 20) unknown API
	// keys are looked up per client address and minute; beyond them keys
	// GES does not know already are refused (429) without a lookup.
	KeyFailuresPerMinute int
	// TrustedProxies (TRUSTED_PROXIES, loopback and private ranges; none:
	// no proxy is trusted) are the peers whose X-Forwarded-For is read
	// to find a client's address.
	TrustedProxies []netip.Prefix
	// CORSOrigins (CORS_ALLOWED_ORIGINS) are the origins whose browser
	// pages may call the external API: exact origins, or * for any;
	// unset: none. CORSMaxAge (CORS_MAX_AGE, 600 s) is how long browsers
	// keep a preflight's answer.
	CORSOrigins []string
	CORSMaxAge  time.Duration
}

// RedisConfig is GES's own Redis.
type RedisConfig struct {
	Host     string
	Port     int
	Password string // REDIS-CACHEKEY (secret)
	TLS      bool
	Cluster  bool
	// InlineUserData (USERDATA_INLINE_BYTES, 1024): larger user data is
	// kept in Postgres only, not in Redis; 0 keeps any size in Redis.
	InlineUserData int
}

// Addr returns host:port (IPv6 hosts bracketed).
func (r RedisConfig) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// DBConfig is the Postgres database.
type DBConfig struct {
	Host     string
	Port     int
	Name     string
	User     string
	Password string // secret
	TLS      bool
}

// ConnString returns a libpq/pgx URL. User, password and database name are
// escaped, so credentials containing '@', '/', ':' or '%' survive intact.
// The password is embedded: never log the result.
func (d DBConfig) ConnString() string {
	u := url.URL{
		Scheme: "postgres",
		Host:   net.JoinHostPort(d.Host, strconv.Itoa(d.Port)),
		Path:   "/" + d.Name,
	}
	switch {
	case d.Password != "":
		u.User = url.UserPassword(d.User, d.Password)
	case d.User != "":
		u.User = url.User(d.User)
	}
	mode := "disable"
	if d.TLS {
		mode = "require"
	}
	u.RawQuery = url.Values{"sslmode": {mode}}.Encode()
	return u.String()
}

// GWSConfig locates Genesys Web Services and holds the OAuth client grant.
// URLs are normalised to carry a scheme ("http://" when none was given) and
// no trailing slash.
type GWSConfig struct {
	AuthURL       string // GWS_AUTH_URL, internal-facing auth service
	EnvURL        string // GWS_ENV_URL
	ConfURL       string // GWS_CONF_URL (optional, empty when unset)
	StatsURL      string // GWS_STATS_URL (optional, empty when unset: GWS Statistics is then at EnvURL)
	PublicAuthURL string // GWS_PUBLIC_AUTH_URL, defaults to AuthURL
	ClientID      string // AUTHENTICATION-CLIENT-ID
	ClientSecret  string // AUTHENTICATION-CLIENT-SECRET, plaintext (decrypted when DECRYPT_PASSWORD is set)
}

// VoiceConfig is the Voice Microservices (ORS) Redis that receives new
// callbacks on a stream.
type VoiceConfig struct {
	Host       string
	Port       int
	Password   string // secret
	TLS        bool   // VMCS_REDIS_SECURE, or implied by a servername in voice-redis-ors-stream
	Cluster    bool
	StreamName string
	// ServerName is the TLS server name (SNI and certificate check), from
	// the voice-redis-ors-stream secret.
	ServerName string
	// RejectUnauthorized mirrors Node's TLS option: when true (the default)
	// the server certificate must verify.
	RejectUnauthorized bool
}

// Addr returns host:port (IPv6 hosts bracketed).
func (v VoiceConfig) Addr() string { return net.JoinHostPort(v.Host, strconv.Itoa(v.Port)) }

// MonitorConfig tunes the callback monitor that hands due callbacks to ORS.
type MonitorConfig struct {
	LeaseSeconds         int // how long a node owns claimed callbacks before any node may reclaim them
	ReportTimeoutSeconds int // silent window after hand-off before resubmission
	MaxAttempts          int
	BatchSize            int
	// LookaheadMillis is how far ahead of their due time callbacks are
	// claimed and checked, so a burst is handed off the moment it is due.
	LookaheadMillis       int
	HealthIntervalSeconds int
	// ReconcileSeconds is the interval of the anti-entropy pass that
	// compares Postgres and Redis.
	ReconcileSeconds int
	// ReconcileFullSeconds is how long the reconciler's sweep over every
	// record takes at least; it is spread over the passes of that time.
	ReconcileFullSeconds int
	// RestoreCheckSeconds is the interval of the check that Redis still
	// holds what the last restore put there (its run ids and marker).
	RestoreCheckSeconds int
}

// Error is returned by Load. It lists every missing or invalid setting; its
// message is a single line and never contains secret values.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "config: " + strings.Join(e.Problems, "; ")
}

// Defaults for optional settings.
const (
	defaultLogLevel           = "DEBUG"
	defaultLogMaxLen          = 2048
	defaultInternalPort       = 3050
	defaultExternalPort       = 2050
	defaultInternalURL        = "ges.ges"
	defaultDevOpsAccessGroups = "Platform Read Only,Platform Provisioning,Platform Internal Administrator"
	defaultRedisPort          = 6379
	defaultDBPort             = 5432
	defaultVoicePort          = 10000
	defaultVoiceStream        = "NewCallbackStream"
	defaultLeaseSeconds       = 30
	defaultReportTimeout      = 60
	defaultReconcileSeconds   = 30
	defaultReconcileFull      = 3600
	defaultRestoreCheck       = 60
	defaultMaxAttempts        = 3
	defaultBatchSize          = 250
	defaultLookaheadMillis    = 2000
	defaultInlineUserData     = 1024
	defaultHealthInterval     = 10
	defaultFCMURL             = "https://fcm.googleapis.com/v1"
	defaultPushCheck          = 30
	defaultSessionLifetime    = 12 * time.Hour
	defaultReadTimeout        = 30 * time.Second
	defaultWriteTimeout       = 60 * time.Second
	defaultIdleTimeout        = 120 * time.Second
	defaultTenantCreateRate   = 200
	defaultKeyCreateRate      = 100
	defaultKeyFailures        = 20
	defaultCORSMaxAge         = 600 * time.Second
	defaultTrustedProxies     = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
)

// Setting names whose values come from secrets. Dash spelling is the one
// used in the product documentation; underscore spelling works too.
const (
	keyRedisPassword = "REDIS-CACHEKEY"
	keyDBUser        = "DB-USER"
	keyDBPassword    = "DB-PASSWORD"
	keyClientID      = "AUTHENTICATION-CLIENT-ID"
	keyClientSecret  = "AUTHENTICATION-CLIENT-SECRET"
	keyClientSecret2 = "AUTHENTICATION-CLIENT-PASSWORD"
	keyVoiceSecret   = "voice-redis-ors-stream"
)

// Load reads the configuration. getenv is os.Getenv in production (injectable for tests).
// Values from config folders (CONFIG_FOLDERS) win over environment variables.
//
// In a folder a key may be spelled with '-' or '_' (DB-USER or DB_USER);
// in the environment it is spelled with '_'. When several folders hold the
// same key, the folder listed first in CONFIG_FOLDERS wins.
func Load(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	l := &loader{src: source{getenv: getenv}}
	c := &Config{}

	c.ConfigFolders = splitList(getenv("CONFIG_FOLDERS"))
	for _, dir := range c.ConfigFolders {
		f, err := readFolder(dir)
		if err != nil {
			l.problemf("CONFIG_FOLDERS entry %q cannot be read: %v", dir, err)
			continue
		}
		l.src.folders = append(l.src.folders, f)
	}

	c.LogLevel = l.logLevel("LOG_LEVEL")
	c.LogMaxLen = l.positive("LOG_MAX_LEN", defaultLogMaxLen)
	c.InternalPort = l.port("INTERNAL_PORT", defaultInternalPort)
	c.ExternalPort = l.port("EXTERNAL_PORT", defaultExternalPort)
	c.InternalURL = l.internalURL("INTERNAL_URL", c.InternalPort)
	c.RegionAffinity = l.str("REGION_AFFINITY", "")
	c.DevOpsAccessGroups = splitList(l.str("DEVOPS_ACCESS_GROUPS", defaultDevOpsAccessGroups))
	c.UIDevOpsUsername = l.str("UI_DEVOPS_USERNAME", "")
	c.UIDevOpsPassword = l.str("UI_DEVOPS_PASSWORD", "")
	c.UISessionTimeout = l.duration("UI_SESSION_TIMEOUT", 20*time.Minute)
	c.UISessionLifetime = l.duration("UI_SESSION_LIFETIME", defaultSessionLifetime)
	c.UIPublicURL = l.publicURL("UI_PUBLIC_URL", c.InternalURL)
	c.HTTP = HTTPConfig{
		ReadTimeout:  l.seconds("HTTP_READ_TIMEOUT", defaultReadTimeout),
		WriteTimeout: l.seconds("HTTP_WRITE_TIMEOUT", defaultWriteTimeout),
		IdleTimeout:  l.seconds("HTTP_IDLE_TIMEOUT", defaultIdleTimeout),
	}
	c.Limits = l.limits()
	c.DecryptPassword = l.str("DECRYPT_PASSWORD", "")
	c.DesignerAPIToken = l.token("DESIGNER-API-TOKEN")
	c.AdminAPIToken = l.token("ADMIN-API-TOKEN")

	c.Redis = RedisConfig{
		Host:     l.required("REDIS_HOST"),
		Port:     l.port("REDIS_PORT", defaultRedisPort),
		Password: l.str(keyRedisPassword, ""),
		TLS:      l.boolean("REDIS_SECURE", false),
		Cluster:  l.boolean("REDIS_CLUSTER", false),
	}
	c.Redis.InlineUserData = l.nonNegative("USERDATA_INLINE_BYTES", defaultInlineUserData)

	c.DB = DBConfig{
		Host:     l.required("DB_HOST"),
		Port:     l.port("DB_PORT", defaultDBPort),
		Name:     l.required("DB_NAME"),
		User:     l.required(keyDBUser),
		Password: l.str(keyDBPassword, ""),
		TLS:      l.boolean("DB_SECURE", false),
	}

	c.GWS = GWSConfig{
		AuthURL:  l.serviceURL("GWS_AUTH_URL", true),
		EnvURL:   l.serviceURL("GWS_ENV_URL", true),
		ConfURL:  l.serviceURL("GWS_CONF_URL", false),
		ClientID: l.str(keyClientID, ""),
	}
	c.GWS.PublicAuthURL = l.serviceURL("GWS_PUBLIC_AUTH_URL", false)
	if c.GWS.PublicAuthURL == "" {
		c.GWS.PublicAuthURL = c.GWS.AuthURL
	}
	c.GWS.StatsURL = l.serviceURL("GWS_STATS_URL", false)
	c.CaptchaVerifyURL = l.serviceURL("CAPTCHA_VERIFY_URL", false)
	c.GWS.ClientSecret = l.src.lookup(keyClientSecret, keyClientSecret2)
	if c.DecryptPassword != "" && c.GWS.ClientSecret != "" {
		plain, err := DecryptSecret(c.GWS.ClientSecret, c.DecryptPassword)
		if err != nil {
			c.GWS.ClientSecret = ""
			l.problemf("%s could not be decrypted with DECRYPT_PASSWORD: %v", displayName(keyClientSecret), err)
		} else {
			c.GWS.ClientSecret = plain
		}
	}

	c.Voice = l.voice()

	c.ConsulAddr = l.str("CONSUL_HTTP_ADDR", "")
	c.Region = l.str("REGION", "")
	c.Platform = PlatformConfig{
		ORSURLs:                  splitList(l.str("ORS_URL", "")),
		URSURLs:                  splitList(l.str("URS_URL", "")),
		ORSService:               l.str("ORS_SERVICE_NAME", "ors"),
		URSService:               l.str("URS_SERVICE_NAME", "urs"),
		DiscoveryIntervalSeconds: l.positive("DISCOVERY_INTERVAL_SECONDS", 15),
		CredentialsKey:           l.src.lookup("CREDENTIALS-KEY"),
		FaultInjection:           l.boolean("FAULT_INJECTION", false),
		FCMURL:                   l.str("FCM_URL", defaultFCMURL),
		PushCheckSeconds:         l.positive("PUSH_CHECK_SECONDS", defaultPushCheck),
	}

	c.Monitor = MonitorConfig{
		LeaseSeconds:          l.positive("MONITOR_LEASE_SECONDS", defaultLeaseSeconds),
		ReportTimeoutSeconds:  l.positive("MONITOR_REPORT_TIMEOUT_SECONDS", defaultReportTimeout),
		MaxAttempts:           l.positive("MONITOR_MAX_ATTEMPTS", defaultMaxAttempts),
		BatchSize:             l.positive("MONITOR_BATCH_SIZE", defaultBatchSize),
		LookaheadMillis:       l.nonNegative("MONITOR_LOOKAHEAD_MS", defaultLookaheadMillis),
		HealthIntervalSeconds: l.positive("HEALTH_INTERVAL_SECONDS", defaultHealthInterval),
		ReconcileSeconds:      l.positive("MONITOR_RECONCILE_SECONDS", defaultReconcileSeconds),
		ReconcileFullSeconds:  l.positive("MONITOR_RECONCILE_FULL_SECONDS", defaultReconcileFull),
		RestoreCheckSeconds:   l.positive("MONITOR_RESTORE_CHECK_SECONDS", defaultRestoreCheck),
	}

	if len(l.problems) > 0 {
		return nil, &Error{Problems: l.problems}
	}
	return c, nil
}

// voice resolves the ORS Redis settings. Precedence, lowest to highest:
// VMCS_REDIS_HOST/VMCS_REDIS_PORT, then ORS_REDIS_LOCATION, then the
// voice-redis-ors-stream JSON secret.
func (l *loader) voice() VoiceConfig {
	v := VoiceConfig{
		Host:               l.str("VMCS_REDIS_HOST", ""),
		Port:               l.port("VMCS_REDIS_PORT", defaultVoicePort),
		TLS:                l.boolean("VMCS_REDIS_SECURE", false),
		Cluster:            l.boolean("VMCS_REDIS_CLUSTER_MODE", false),
		StreamName:         l.str("VMCS_REDIS_STREAM_NAME", defaultVoiceStream),
		RejectUnauthorized: true,
	}

	if loc := l.src.lookup("ORS_REDIS_LOCATION"); loc != "" {
		host, portStr, err := net.SplitHostPort(loc)
		if err != nil {
			// A bare host name (no port) keeps the configured port;
			// anything else with a colon is malformed.
			host, portStr = strings.TrimSuffix(strings.TrimPrefix(loc, "["), "]"), ""
			if strings.Contains(loc, ":") && net.ParseIP(host) == nil {
				l.problemf("ORS_REDIS_LOCATION must be host:port (got %q)", loc)
				host = ""
			}
		}
		// The Helm chart renders "<redis_host>:<redis_port>", which is
		// ":10000" when redis_host is unset; an empty host here must not
		// clobber VMCS_REDIS_HOST.
		if host != "" {
			v.Host = host
		}
		if portStr != "" {
			if p, msg := parsePort(portStr); msg != "" {
				l.problemf("ORS_REDIS_LOCATION port %s", msg)
			} else {
				v.Port = p
			}
		}
	}

	if raw := l.src.lookup(keyVoiceSecret); raw != "" {
		l.applyVoiceSecret(&v, raw)
	}

	if v.ServerName != "" {
		v.TLS = true
	}
	if v.Host == "" {
		l.problemf("VMCS_REDIS_HOST is required (or ORS_REDIS_LOCATION host:port)")
	}
	return v
}

// applyVoiceSecret overlays the voice-redis-ors-stream JSON secret. The
// documented keys are password, port, rejectUnauthorized and servername;
// host is accepted too. Values may be JSON strings or native types, and empty
// strings mean "not set" (the documented kubectl example ships `"port":""`).
// Messages never echo the secret because it holds a password.
func (l *loader) applyVoiceSecret(v *VoiceConfig, raw string) {
	name := keyVoiceSecret
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || dec.More() || m == nil {
		l.problemf("%s is not a valid JSON object", name)
		return
	}
	str := func(k string) (string, bool) {
		switch x := m[k].(type) {
		case nil:
			return "", false
		case string:
			x = strings.TrimSpace(x)
			return x, x != ""
		case json.Number:
			return x.String(), true
		case bool:
			return strconv.FormatBool(x), true
		default:
			l.problemf("%s %q must be a string, number or boolean", name, k)
			return "", false
		}
	}
	if s, ok := str("host"); ok {
		v.Host = s
	}
	if s, ok := str("port"); ok {
		if p, msg := parsePort(s); msg != "" {
			l.problemf("%s port %s", name, msg)
		} else {
			v.Port = p
		}
	}
	if s, ok := str("password"); ok {
		v.Password = s
	}
	if s, ok := str("servername"); ok {
		v.ServerName = s
	}
	if s, ok := str("rejectUnauthorized"); ok {
		if b, valid := parseBool(s); valid {
			v.RejectUnauthorized = b
		} else {
			l.problemf("%s rejectUnauthorized must be a boolean (got %q)", name, s)
		}
	}
}

// loader accumulates problems so that Load can report all of them at once.
type loader struct {
	src      source
	problems []string
}

func (l *loader) problemf(format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

func (l *loader) str(key, def string) string {
	if v := l.src.lookup(key); v != "" {
		return v
	}
	return def
}

// minTokenLen is the shortest service token accepted: 32 characters of a
// random token (openssl rand -hex 16) cannot be guessed online.
const minTokenLen = 32

// token reads a service token (a secret); a short one stops start-up, as a
// guessable token would open the admin APIs. The message never shows it.
func (l *loader) token(key string) string {
	v := l.src.lookup(key)
	if v != "" && len(v) < minTokenLen {
		l.problemf("%s must be at least %d characters (e.g. openssl rand -hex 16)", displayName(key), minTokenLen)
	}
	return v
}

func (l *loader) required(key string) string {
	v := l.src.lookup(key)
	if v == "" {
		l.problemf("%s is required", displayName(key))
	}
	return v
}

func (l *loader) integer(key string, def int) (int, bool) {
	s := l.src.lookup(key)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		l.problemf("%s must be an integer (got %q)", key, s)
		return def, false
	}
	return n, true
}

// duration reads a positive Go duration; a bare integer counts minutes.
func (l *loader) duration(key string, def time.Duration) time.Duration {
	s := strings.TrimSpace(l.src.lookup(key))
	if s == "" {
		return def
	}
	if n, err := strconv.Atoi(s); err == nil {
		s = strconv.Itoa(n) + "m"
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		l.problemf("%s must be a positive duration such as 20m or 90s, or whole minutes (got %q)", key, s)
		return def
	}
	return d
}

// seconds reads a positive Go duration; a bare integer counts seconds.
func (l *loader) seconds(key string, def time.Duration) time.Duration {
	s := strings.TrimSpace(l.src.lookup(key))
	if s == "" {
		return def
	}
	if n, err := strconv.Atoi(s); err == nil {
		s = strconv.Itoa(n) + "s"
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		l.problemf("%s must be a positive duration such as 30s or 2m, or whole seconds (got %q)", key, s)
		return def
	}
	return d
}

// rate reads a non-negative number of events per second (0: off).
func (l *loader) rate(key string, def float64) float64 {
	s := strings.TrimSpace(l.src.lookup(key))
	if s == "" {
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != f || f > 1e9 {
		l.problemf("%s must be zero (off) or a positive number per second (got %q)", key, s)
		return def
	}
	return f
}

// limits reads the abuse limits of the external API.
func (l *loader) limits() LimitsConfig {
	c := LimitsConfig{
		TenantRate:           l.rate("API_CREATE_RATE_TENANT", defaultTenantCreateRate),
		KeyRate:              l.rate("API_CREATE_RATE_KEY", defaultKeyCreateRate),
		KeyFailuresPerMinute: l.nonNegative("API_KEY_FAILURES_PER_MINUTE", defaultKeyFailures),
		CORSOrigins:          l.origins("CORS_ALLOWED_ORIGINS"),
		CORSMaxAge:           l.seconds("CORS_MAX_AGE", defaultCORSMaxAge),
	}
	burst := func(rate float64) int { return max(1, int(2*rate+0.5)) }
	c.TenantBurst = l.positive("API_CREATE_BURST_TENANT", burst(c.TenantRate))
	c.KeyBurst = l.positive("API_CREATE_BURST_KEY", burst(c.KeyRate))
	proxies := l.str("TRUSTED_PROXIES", defaultTrustedProxies)
	if !strings.EqualFold(strings.TrimSpace(proxies), "none") {
		for _, item := range splitList(proxies) {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				a, aerr := netip.ParseAddr(item)
				if aerr != nil {
					l.problemf("TRUSTED_PROXIES entry %q is neither an address nor a CIDR prefix", item)
					continue
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, p.Masked())
		}
	}
	return c
}

// origins reads a list of exact origins (scheme://host[:port]) or "*".
func (l *loader) origins(key string) []string {
	var out []string
	for _, o := range splitList(l.src.lookup(key)) {
		if o == "*" {
			out = append(out, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			l.problemf("%s entry %q is not an origin such as https://www.example.com", key, o)
			continue
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out
}

// publicURL reads the base URL browsers reach GES at (scheme and host,
// optionally a path prefix); def when unset.
func (l *loader) publicURL(key, def string) string {
	s := strings.TrimSpace(l.src.lookup(key))
	if s == "" {
		return def
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		l.problemf("%s must be an http(s) URL such as https://ges.example.com (got %q)", key, s)
		return def
	}
	return strings.TrimRight(u.String(), "/")
}

func (l *loader) nonNegative(key string, def int) int {
	n, ok := l.integer(key, def)
	if ok && n < 0 {
		l.problemf("%s must be zero or a positive integer (got %d)", key, n)
	}
	return n
}

func (l *loader) positive(key string, def int) int {
	n, ok := l.integer(key, def)
	if ok && n <= 0 {
		l.problemf("%s must be a positive integer (got %d)", key, n)
	}
	return n
}

func (l *loader) port(key string, def int) int {
	s := l.src.lookup(key)
	if s == "" {
		return def
	}
	p, msg := parsePort(s)
	if msg != "" {
		l.problemf("%s %s", key, msg)
		return def
	}
	return p
}

func (l *loader) boolean(key string, def bool) bool {
	s := l.src.lookup(key)
	if s == "" {
		return def
	}
	b, ok := parseBool(s)
	if !ok {
		l.problemf("%s must be a boolean: true/false, 1/0 or yes/no (got %q)", key, s)
		return def
	}
	return b
}

func (l *loader) logLevel(key string) string {
	s := l.str(key, defaultLogLevel)
	switch u := strings.ToUpper(s); u {
	case "DEBUG", "INFO", "WARN", "ERROR":
		return u
	case "WARNING":
		return "WARN"
	default:
		l.problemf("%s must be one of DEBUG, INFO, WARN, ERROR (got %q)", key, s)
		return defaultLogLevel
	}
}

// internalURL normalises INTERNAL_URL. The documented default is a bare
// Kubernetes service name ("ges.ges"), which only becomes usable by ORS once
// it has a scheme and this process's internal port. A value that already has
// a scheme is taken as a complete URL and left alone apart from the trailing
// slash, because it may legitimately rely on the scheme's default port
// (e.g. behind an ingress).
func (l *loader) internalURL(key string, internalPort int) string {
	s := l.str(key, defaultInternalURL)
	bare := !strings.Contains(s, "://")
	if bare {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		l.problemf("%s is not a valid URL or host name", key)
		return ""
	}
	if bare && u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(internalPort))
	}
	return strings.TrimRight(u.String(), "/")
}

// serviceURL normalises a GWS endpoint. The product documents these as
// "hostname/port" values, so a missing scheme defaults to http (in-cluster
// traffic); the trailing slash is dropped so callers can append paths.
func (l *loader) serviceURL(key string, required bool) string {
	var s string
	if required {
		s = l.required(key)
	} else {
		s = l.src.lookup(key)
	}
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		l.problemf("%s is not a valid URL", key)
		return ""
	}
	return strings.TrimRight(u.String(), "/")
}

// parsePort returns the port or a message completing "<setting> …".
func parsePort(s string) (int, string) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Sprintf("must be an integer (got %q)", s)
	}
	if p < 1 || p > 65535 {
		return 0, fmt.Sprintf("must be between 1 and 65535 (got %d)", p)
	}
	return p, ""
}

func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

// splitList splits a comma-separated list, trimming blanks and dropping empty
// items (a trailing comma is common in hand-written Helm values).
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

const masked = "***"

// mask hides a secret while still showing whether it is set at all, which is
// usually the question when debugging a deployment.
func mask(s string) string {
	if s == "" {
		return ""
	}
	return masked
}

// redactURL hides a password embedded in a URL's user info.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable: it cannot be shown to be free of credentials.
		if strings.Contains(s, "@") {
			return masked
		}
		return s
	}
	return u.Redacted()
}

// Redacted returns the effective configuration keyed by setting name, for
// logging at boot. Every secret is replaced by "***" (or "" when unset) and
// passwords embedded in URLs are masked.
func (c *Config) Redacted() map[string]any {
	return map[string]any{
		"LOG_LEVEL":            c.LogLevel,
		"LOG_MAX_LEN":          c.LogMaxLen,
		"INTERNAL_PORT":        c.InternalPort,
		"EXTERNAL_PORT":        c.ExternalPort,
		"INTERNAL_URL":         redactURL(c.InternalURL),
		"REGION_AFFINITY":      c.RegionAffinity,
		"DEVOPS_ACCESS_GROUPS": append([]string(nil), c.DevOpsAccessGroups...),
		"UI_DEVOPS_USERNAME":   c.UIDevOpsUsername,
		"UI_DEVOPS_PASSWORD":   mask(c.UIDevOpsPassword),
		"UI_SESSION_TIMEOUT":   c.UISessionTimeout.String(),
		"UI_SESSION_LIFETIME":  c.UISessionLifetime.String(),
		"UI_PUBLIC_URL":        redactURL(c.UIPublicURL),

		"HTTP_READ_TIMEOUT":           c.HTTP.ReadTimeout.String(),
		"HTTP_WRITE_TIMEOUT":          c.HTTP.WriteTimeout.String(),
		"HTTP_IDLE_TIMEOUT":           c.HTTP.IdleTimeout.String(),
		"API_CREATE_RATE_TENANT":      c.Limits.TenantRate,
		"API_CREATE_BURST_TENANT":     c.Limits.TenantBurst,
		"API_CREATE_RATE_KEY":         c.Limits.KeyRate,
		"API_CREATE_BURST_KEY":        c.Limits.KeyBurst,
		"API_KEY_FAILURES_PER_MINUTE": c.Limits.KeyFailuresPerMinute,
		"TRUSTED_PROXIES":             prefixStrings(c.Limits.TrustedProxies),
		"CORS_ALLOWED_ORIGINS":        append([]string(nil), c.Limits.CORSOrigins...),
		"CORS_MAX_AGE":                c.Limits.CORSMaxAge.String(),
		"DECRYPT_PASSWORD":            mask(c.DecryptPassword),

		"REDIS_HOST":            c.Redis.Host,
		"REDIS_PORT":            c.Redis.Port,
		"REDIS_SECURE":          c.Redis.TLS,
		"REDIS_CLUSTER":         c.Redis.Cluster,
		"USERDATA_INLINE_BYTES": c.Redis.InlineUserData,
		"REDIS_CACHEKEY":        mask(c.Redis.Password),

		"DB_HOST":     c.DB.Host,
		"DB_PORT":     c.DB.Port,
		"DB_NAME":     c.DB.Name,
		"DB_SECURE":   c.DB.TLS,
		"DB_USER":     c.DB.User,
		"DB_PASSWORD": mask(c.DB.Password),

		"GWS_AUTH_URL":                 redactURL(c.GWS.AuthURL),
		"GWS_ENV_URL":                  redactURL(c.GWS.EnvURL),
		"GWS_CONF_URL":                 redactURL(c.GWS.ConfURL),
		"GWS_STATS_URL":                redactURL(c.GWS.StatsURL),
		"CAPTCHA_VERIFY_URL":           redactURL(c.CaptchaVerifyURL),
		"GWS_PUBLIC_AUTH_URL":          redactURL(c.GWS.PublicAuthURL),
		"AUTHENTICATION_CLIENT_ID":     c.GWS.ClientID,
		"AUTHENTICATION_CLIENT_SECRET": mask(c.GWS.ClientSecret),

		"VMCS_REDIS_HOST":                           c.Voice.Host,
		"VMCS_REDIS_PORT":                           c.Voice.Port,
		"VMCS_REDIS_SECURE":                         c.Voice.TLS,
		"VMCS_REDIS_CLUSTER_MODE":                   c.Voice.Cluster,
		"VMCS_REDIS_STREAM_NAME":                    c.Voice.StreamName,
		"voice-redis-ors-stream.password":           mask(c.Voice.Password),
		"voice-redis-ors-stream.servername":         c.Voice.ServerName,
		"voice-redis-ors-stream.rejectUnauthorized": c.Voice.RejectUnauthorized,

		"CONSUL_HTTP_ADDR": redactURL(c.ConsulAddr),
		"REGION":           c.Region,
		"ORS_URL":          c.Platform.ORSURLs,
		"URS_URL":          c.Platform.URSURLs,
		"CREDENTIALS-KEY":  mask(c.Platform.CredentialsKey),

		"DESIGNER-API-TOKEN": mask(c.DesignerAPIToken),
		"ADMIN-API-TOKEN":    mask(c.AdminAPIToken),

		"FCM_URL":            redactURL(c.Platform.FCMURL),
		"PUSH_CHECK_SECONDS": c.Platform.PushCheckSeconds,

		"MONITOR_LEASE_SECONDS":          c.Monitor.LeaseSeconds,
		"MONITOR_REPORT_TIMEOUT_SECONDS": c.Monitor.ReportTimeoutSeconds,
		"MONITOR_MAX_ATTEMPTS":           c.Monitor.MaxAttempts,
		"MONITOR_BATCH_SIZE":             c.Monitor.BatchSize,
		"MONITOR_LOOKAHEAD_MS":           c.Monitor.LookaheadMillis,
		"HEALTH_INTERVAL_SECONDS":        c.Monitor.HealthIntervalSeconds,
		"MONITOR_RECONCILE_SECONDS":      c.Monitor.ReconcileSeconds,
		"MONITOR_RECONCILE_FULL_SECONDS": c.Monitor.ReconcileFullSeconds,
		"MONITOR_RESTORE_CHECK_SECONDS":  c.Monitor.RestoreCheckSeconds,

		"CONFIG_FOLDERS": append([]string(nil), c.ConfigFolders...),
	}
}
