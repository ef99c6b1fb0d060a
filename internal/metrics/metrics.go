// Package metrics registers every metric GES exports, under the names and
// labels of the product guide. Nothing else in GES creates a metric.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// UnknownTenant is the tenant label of requests no tenant was found for.
const UnknownTenant = "Unknown Tenant"

// PrivatePath is the path label of internal-port requests.
const PrivatePath = "Private API Endpoint"

// Alert counters: they appear on /metrics only once their condition first
// happens, as in the product.
const (
	RBACCreateVQProxyError        = "RBAC_CREATE_VQ_PROXY_ERROR"
	LoggingFailure                = "LOGGING_FAILURE"
	UncaughtException             = "UNCAUGHT_EXCEPTION"
	DNSFailure                    = "GES_DNS_FAILURE"
	GWSIncorrectClientCredentials = "GWS_INCORRECT_CLIENT_CREDENTIALS"
	NexusAccessFailure            = "NEXUS_ACCESS_FAILURE"
	CBSubmitFailed                = "CB_SUBMIT_FAILED"
	CBTTLLimitReached             = "CB_TTL_LIMIT_REACHED"
	CBEnqueueLimitReached         = "CB_ENQUEUE_LIMIT_REACHED"
	InvalidContentLength          = "INVALID_CONTENT_LENGTH"
	GWSServerError                = "GWS_SERVER_ERROR"
)

var alertNames = []string{RBACCreateVQProxyError, LoggingFailure, UncaughtException, DNSFailure,
	GWSIncorrectClientCredentials, NexusAccessFailure, CBSubmitFailed, CBTTLLimitReached,
	CBEnqueueLimitReached, InvalidContentLength, GWSServerError}

// Health gauges (1 = healthy, 0 = unhealthy; docs/decisions.md).
const (
	GESHealth       = "GES_HEALTH"
	RedisConnection = "REDIS_CONNECTION"
	ORSRedisStatus  = "ORS_REDIS_STATUS"
	GWSConfigStatus = "GWS_CONFIG_STATUS"
	GWSEnvStatus    = "GWS_ENV_STATUS"
	GWSAuthStatus   = "GWS_AUTH_STATUS"
	AllURSDown      = "ALL_URS_DOWN"
)

// Tolerances are the thresholds the shipped alerts compare against.
var Tolerances = map[string]float64{
	"http_400_tolerance":                   2,
	"http_401_tolerance":                   2,
	"http_404_tolerance":                   2,
	"http_500_tolerance":                   2,
	"rbac_create_vq_proxy_error_tolerance": 1000,
	"invalid_content_length_tolerance":     1,
}

// Metrics holds every collector.
type Metrics struct {
	reg              *prometheus.Registry
	version, host    string
	CallbacksCreated *prometheus.CounterVec
	CallinCreated    *prometheus.CounterVec
	PushSent         *prometheus.CounterVec
	monitorSize      *sizes
	Requests         *prometheus.CounterVec
	Failed           *prometheus.CounterVec
	Duration         *prometheus.HistogramVec
	health           map[string]*prometheus.GaugeVec
	alerts           map[string]*prometheus.CounterVec
	PGBatch          prometheus.Histogram
	// ReconcileDrift counts differences between Postgres and Redis found
	// by the reconciler (and the monitor's pre-dispatch check), by kind;
	// ReconcileRepaired those it repaired.
	ReconcileDrift    *prometheus.CounterVec
	ReconcileRepaired *prometheus.CounterVec
	// Restores counts restores of Redis from Postgres; RestoredCallbacks
	// the callbacks they put back.
	Restores          prometheus.Counter
	RestoredCallbacks prometheus.Counter
	// LoopPasses counts finished passes of each background loop, so tests
	// and operators see a loop working without reading its logs.
	LoopPasses *prometheus.CounterVec
}

// New registers the metrics of a GES of that version.
func New(version string) *Metrics {
	host, _ := os.Hostname()
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg, version: version, host: host,
		health: map[string]*prometheus.GaugeVec{}, alerts: map[string]*prometheus.CounterVec{}}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "ges"}))
	m.CallbacksCreated = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ges_callbacks_created", Help: "The number of callbacks booked in GES since the deployment went online."}, []string{"tenant"})
	m.CallinCreated = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ges_callin_created", Help: "The total number of Click-to-Call-In requests handled since the GES deployment went online."}, []string{"tenant"})
	m.PushSent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ges_push_notifications_sent", Help: "The number of Push Notifications sent since the deployment went online."}, []string{"tenant", "channel", "result"})
	m.monitorSize = &sizes{desc: prometheus.NewDesc("ges_monitor_size", "The number of booked callbacks currently being monitored and managed in GES.", []string{"type"}, nil)}
	m.Requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ges_http_requests_total", Help: "The number of HTTP requests handled by GES since the deployment went online."}, []string{"tenant", "path"})
	m.Failed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ges_http_failed_requests_total", Help: "The amount of failed (4XX/5XX) requests handled by GES since the deployment came online."}, []string{"tenant", "path", "httpCode"})
	m.Duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ges_http_request_duration_seconds", Help: "Duration of HTTP requests handled by GES.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2.5, 5, 10}}, []string{"path", "method"})
	m.PGBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ges_postgres_write_group_size", Help: "Callback writes grouped into one Postgres round trip.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}})
	m.ReconcileDrift = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ges_reconcile_drift_total", Help: "Differences between Postgres and Redis found, by kind."}, []string{"kind"})
	m.ReconcileRepaired = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ges_reconcile_repaired_total", Help: "Differences between Postgres and Redis repaired, by kind."}, []string{"kind"})
	m.Restores = prometheus.NewCounter(prometheus.CounterOpts{Name: "ges_restore_total", Help: "Restores of Redis from Postgres after a Redis loss."})
	m.RestoredCallbacks = prometheus.NewCounter(prometheus.CounterOpts{Name: "ges_restore_callbacks_total", Help: "Callbacks put back into Redis by restores."})
	m.LoopPasses = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ges_loop_passes_total", Help: "Finished passes of each background loop."}, []string{"loop"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ges_build_info", Help: "The version of GES that is currently running; the value is always 1."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	for _, c := range []prometheus.Collector{m.CallbacksCreated, m.CallinCreated, m.PushSent, m.monitorSize, m.Requests, m.Failed, m.Duration, m.PGBatch, build,
		m.ReconcileDrift, m.ReconcileRepaired, m.Restores, m.RestoredCallbacks, m.LoopPasses} {
		f(c)
	}
	for _, n := range []string{GESHealth, RedisConnection, ORSRedisStatus, GWSConfigStatus, GWSEnvStatus, GWSAuthStatus, AllURSDown} {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: n, Help: n + " (1 = healthy, 0 = unhealthy)."}, []string{"version", "host"})
		f(g)
		m.health[n] = g
	}
	for _, n := range alertNames {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: n, Help: "Alert counter " + n + "; appears after its first occurrence."}, []string{"version", "host"})
		f(c)
		m.alerts[n] = c
	}
	for n, v := range Tolerances {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: n, Help: "Threshold of the alert based on " + n + "."})
		g.Set(v)
		f(g)
	}
	return m
}

// MonitorSizes sets how ges_monitor_size is read: the callbacks waiting on
// a timer and those claimed by a monitor (in flight). It is read when
// /metrics is scraped, at most once per sizesMaxAge.
func (m *Metrics) MonitorSizes(read func(ctx context.Context) (waiting, inflight int64, err error)) {
	m.monitorSize.mu.Lock()
	m.monitorSize.read = read
	m.monitorSize.mu.Unlock()
}

// sizesMaxAge is how long a reading of ges_monitor_size serves scrapes:
// several scrapers (a pair of Prometheus servers) share one reading.
const sizesMaxAge = 10 * time.Second

// sizes is ges_monitor_size: a collector that reads the sizes from Redis
// when scraped; a failed reading serves the last one.
type sizes struct {
	desc *prometheus.Desc

	mu     sync.Mutex
	read   func(ctx context.Context) (waiting, inflight int64, err error)
	values [2]float64
	at     time.Time
}

func (s *sizes) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

func (s *sizes) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	if s.read != nil && time.Since(s.at) >= sizesMaxAge {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		w, f, err := s.read(ctx)
		cancel()
		if err == nil {
			s.values, s.at = [2]float64{float64(w), float64(f)}, time.Now()
		} else {
			slog.Warn("could not read the monitor sizes", "err", err)
		}
	}
	v := s.values
	s.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, v[0], "waiting")
	ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, v[1], "inflight")
}

// SetHealth sets a health gauge.
func (m *Metrics) SetHealth(name string, healthy bool) {
	v := 0.0
	if healthy {
		v = 1
	}
	m.health[name].WithLabelValues(m.version, m.host).Set(v)
}

// Alert moves an alert counter.
func (m *Metrics) Alert(name string) {
	if c, ok := m.alerts[name]; ok {
		c.WithLabelValues(m.version, m.host).Inc()
	}
}

// Request records one handled HTTP request.
func (m *Metrics) Request(tenant, path, method string, status int, seconds float64) {
	if tenant == "" {
		tenant = UnknownTenant
	}
	m.Requests.WithLabelValues(tenant, path).Inc()
	if status >= 400 {
		m.Failed.WithLabelValues(tenant, path, strconv.Itoa(status)).Inc()
	}
	m.Duration.WithLabelValues(path, method).Observe(seconds)
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
