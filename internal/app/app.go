// Package app wires GES together: stores, the callback service, the
// background loops and both HTTP ports, and runs them until shutdown.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/callin"
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/config"
	"github.com/gesgo/ges/internal/credentials"
	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/health"
	"github.com/gesgo/ges/internal/httpapi"
	"github.com/gesgo/ges/internal/lob"
	"github.com/gesgo/ges/internal/loop"
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/monitor"
	"github.com/gesgo/ges/internal/numbers"
	"github.com/gesgo/ges/internal/pause"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/voice"
)

// Shutdown budget: a node that gets SIGTERM exits within 30 s. Requests in
// flight drain first, then the background loops finish what they claimed,
// then the Postgres writer flushes its queue; only then do the stores close.
const (
	drainDelay    = 2 * time.Second  // not ready, still serving: the load balancer moves away
	ShutdownGrace = 13 * time.Second // in-flight requests
	loopsGrace    = 8 * time.Second  // claimed batches, leases given back
	writerGrace   = 5 * time.Second  // queued Postgres writes
)

func redisClient(addr, password string, useTLS, insecure, cluster bool, serverName string, dial func(context.Context, string, string) (net.Conn, error), onConnect func(context.Context, *redis.Conn) error) redis.UniversalClient {
	o := &redis.UniversalOptions{Addrs: []string{addr}, Password: password, IsClusterMode: cluster, Dialer: dial,
		DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, PoolSize: 64, OnConnect: onConnect}
	if useTLS {
		o.TLSConfig = &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // the operator's rejectUnauthorized=false
	}
	return redis.NewUniversalClient(o)
}

// node is one running GES: its stores, its HTTP servers and its background
// loops, in the order they start and stop.
type node struct {
	cfg     *config.Config
	version string
	m       *metrics.Metrics
	clock   clock.Clock

	rdb, vdb redis.UniversalClient
	// rdbSeen and vdbSeen tell when each Redis last answered (health).
	rdbSeen, vdbSeen *health.Activity
	pool             *pgxpool.Pool
	watch            *redisstore.ServerWatch
	hot              *redisstore.Store
	durable          *pgstore.Store

	checker *health.Checker
	servers []*http.Server
	// writer is the Postgres writer; workers are every other loop, all of
	// which may write through it, so it stops last.
	writer  namedLoop
	workers []namedLoop
}

type namedLoop struct {
	name string
	run  loop.Func
}

func (n *node) worker(name string, run loop.Func) {
	n.workers = append(n.workers, namedLoop{name, run})
}

// Run starts GES and blocks until ctx ends, then shuts down gracefully. It
// returns an error when a port or a background loop failed, so that the
// process exits non-zero and is replaced.
func Run(ctx context.Context, cfg *config.Config, version string, m *metrics.Metrics) error {
	n := &node{cfg: cfg, version: version, m: m, clock: clock.System{}}
	defer n.close()
	if err := n.connect(ctx); err != nil {
		return err
	}
	if err := n.wire(ctx); err != nil {
		return err
	}
	return n.serve(ctx)
}

// connect opens Redis, the Voice Redis and Postgres, and migrates the
// database.
func (n *node) connect(ctx context.Context) error {
	cfg, m := n.cfg, n.m
	// Every outgoing HTTP call (GWS, ORS, URS, FCM, ...) goes through the
	// default transport: counting its DNS failures here covers them all.
	http.DefaultTransport = m.Transport(http.DefaultTransport)
	n.watch = redisstore.NewServerWatch()
	n.rdb = redisClient(cfg.Redis.Addr(), cfg.Redis.Password, cfg.Redis.TLS, false, cfg.Redis.Cluster, cfg.Redis.Host, m.Dial, n.watch.OnConnect)
	n.vdb = redisClient(cfg.Voice.Addr(), cfg.Voice.Password, cfg.Voice.TLS, !cfg.Voice.RejectUnauthorized, cfg.Voice.Cluster, cfg.Voice.ServerName, m.Dial, nil)
	n.rdbSeen, n.vdbSeen = watchActivity(n.rdb, n.clock.Now), watchActivity(n.vdb, n.clock.Now)
	pcfg, err := pgxpool.ParseConfig(cfg.DB.ConnString())
	if err != nil {
		return fmt.Errorf("database settings: %w", err)
	}
	pcfg.MaxConns = 16
	pcfg.ConnConfig.ConnectTimeout = 3 * time.Second
	pcfg.ConnConfig.DialFunc = m.Dial
	n.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	if err := migrateWithRetry(ctx, n.pool); err != nil {
		return err
	}
	n.hot = redisstore.New(n.rdb, n.clock)
	n.hot.InlineUserData = cfg.Redis.InlineUserData
	n.durable = pgstore.New(n.pool)
	n.durable.Batches = func(size int) { m.PGBatch.Observe(float64(size)) }
	n.writer = namedLoop{"postgres-writer", func(c context.Context) error { return n.durable.Run(c, 4) }}
	return nil
}

// close closes the stores, after everything that uses them stopped.
func (n *node) close() {
	if n.pool != nil {
		n.pool.Close()
	}
	for _, c := range []redis.UniversalClient{n.rdb, n.vdb} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// wire builds the callback service, the platform clients, the HTTP
// handlers and the background loops.
func (n *node) wire(ctx context.Context) error {
	cfg, m, clk := n.cfg, n.m, n.clock
	rdb, vdb, pool, hot, durable := n.rdb, n.vdb, n.pool, n.hot, n.durable
	registry := settings.NewRegistry()
	env := gws.NewEnvironment(cfg.GWS.EnvURL, cfg.GWS.AuthURL, cfg.GWS.ClientID, cfg.GWS.ClientSecret)
	env.Status = func(ok bool) { m.SetHealth(metrics.GWSEnvStatus, ok) }
	env.Clock = clk
	pub := settings.NewPublisher(durable, settingsFeed{hot}, registry, clk)
	var proxies *lob.Proxies
	if cfg.GWS.ConfURL != "" {
		conf := gws.NewConfiguration(cfg.GWS.ConfURL, cfg.GWS.AuthURL, cfg.GWS.ClientID, cfg.GWS.ClientSecret)
		conf.Status = func(ok bool) { m.SetHealth(metrics.GWSConfigStatus, ok) }
		proxies = &lob.Proxies{Objects: conf, Tables: registry.All, Interval: 5 * time.Minute, Retry: 5 * time.Second,
			Failed: func() { m.Alert(metrics.RBACCreateVQProxyError) }}
		pub.Changed = proxies.Kick
	}
	if err := pub.LoadAll(ctx); err != nil {
		slog.Warn("could not load published data tables yet", "err", err)
	}

	policy := callback.Policy{ReportTimeout: time.Duration(cfg.Monitor.ReportTimeoutSeconds) * time.Second, MaxAttempts: cfg.Monitor.MaxAttempts}
	svc := &callback.Service{Hot: redisstore.Admitting{Store: hot}, Durable: durable, Settings: registry, Clock: clk, Policy: policy,
		Created: func(t string) { m.CallbacksCreated.WithLabelValues(t).Inc() }, Recent: callback.NewRecent(0)}

	interval := time.Duration(cfg.Monitor.HealthIntervalSeconds) * time.Second
	n.checker = healthChecker(cfg, n.version, m, n, interval)
	n.checker.Clock = clk
	checker := n.checker

	urs, ors, pools, err := platform(cfg, m)
	if err != nil {
		return err
	}
	stream := voice.NewStream(vdb, cfg.Voice.StreamName)
	svc.Interrupted = interrupter(ors, stream)
	creds, err := credentials.New(pool, credentialsKey(cfg))
	if err != nil {
		return err
	}
	creds.Clock = clk
	pauses := &pause.Service{Durable: durable, Hot: hot, Settings: registry, Clock: clk}
	numberRules := &numbers.Service{Store: durable, Settings: registry, Clock: clk}
	svc.Numbers = numberRules
	deps := httpapi.Deps{Callbacks: svc, Tenants: env, Metrics: m, URS: urs, ORS: ors, Credentials: creds, Clock: clk, Pauses: pauses, Numbers: numberRules,
		Limits: httpapi.Limits(cfg.Limits)}
	withStatisticsAndCaptcha(cfg, svc, &deps, creds)
	notifier := withPush(cfg, svc, &deps, creds, registry, durable, urs, env, m)
	deps.Callin = &callin.Service{Store: durable.CallinStore(), Clock: clk,
		Created: func(t string) { m.CallinCreated.WithLabelValues(t).Inc() }}
	callbackUI := withUI(cfg, rdb, pool, durable, &deps, pub, env, pools)
	extra := callbackUI.Mount
	if cfg.Platform.FaultInjection {
		extra = n.loopFault(callbackUI.Mount)
	}
	internalH := httpapi.Internal(httpapi.InternalDeps{Deps: deps, Publisher: pub, Health: checker, BaseURL: cfg.InternalURL, FaultInjection: cfg.Platform.FaultInjection, Extra: extra,
		Admins: admins(cfg, callbackUI)})
	externalH := httpapi.External(deps)
	n.servers = []*http.Server{
		httpServer(cfg.InternalPort, internalH, cfg.HTTP),
		httpServer(cfg.ExternalPort, externalH, cfg.HTTP),
	}

	drift := func(kind string) { m.ReconcileDrift.WithLabelValues(kind).Inc() }
	repaired := func(kind string) { m.ReconcileRepaired.WithLabelValues(kind).Inc() }
	dispatcher := &monitor.Dispatcher{Store: hot, Durable: durable, Watch: n.watch, Callbacks: svc, Stream: stream, Settings: registry,
		TenantName: func(c context.Context, ccid string) string {
			if t, err := env.ByID(c, ccid); err == nil {
				return t.Name
			}
			return ""
		},
		GESURL: cfg.InternalURL, Lease: time.Duration(cfg.Monitor.LeaseSeconds) * time.Second,
		Batch: cfg.Monitor.BatchSize, Workers: 16, Claims: 4, MaxIdle: time.Minute,
		Lookahead:    time.Duration(cfg.Monitor.LookaheadMillis) * time.Millisecond,
		SubmitFailed: func() { m.Alert(metrics.CBSubmitFailed) }, Drift: drift, Repaired: repaired}
	if ors != nil {
		dispatcher.Sessions = ors
	}
	if urs != nil {
		dispatcher.Waits = urs
	}
	restorer := &monitor.Restorer{Hot: hot, Durable: durable, Watch: n.watch, Policy: policy, Clock: clk, AfterRestore: pauses.Restore,
		Interval: time.Duration(cfg.Monitor.RestoreCheckSeconds) * time.Second,
		Restored: func(c int) { m.Restores.Inc(); m.RestoredCallbacks.Add(float64(c)) },
		Checked:  func() { m.LoopPasses.WithLabelValues("restore").Inc() }}
	reconciler := &monitor.Reconciler{Hot: hot, Durable: durable, Callbacks: svc, Watch: n.watch, Clock: clk,
		Interval:  time.Duration(cfg.Monitor.ReconcileSeconds) * time.Second,
		FullCycle: time.Duration(cfg.Monitor.ReconcileFullSeconds) * time.Second, PageSize: 500, Budget: 20000,
		Drift: drift, Repaired: repaired, Passed: func() { m.LoopPasses.WithLabelValues("reconciler").Inc() }}
	retention := &monitor.Retention{Durable: durable, Interval: time.Hour, Now: clk.Now}

	n.worker("health", checker.Run)
	n.worker("restore", restorer.Run)
	n.worker("dispatcher", dispatcher.Run)
	n.worker("reconciler", reconciler.Run)
	n.worker("retention", retention.Run)
	n.worker("push", notifier.Run)
	n.worker("callin-sweeper", func(c context.Context) error { return deps.Callin.RunSweeper(c, time.Minute) })
	n.worker("ui-error-log", callbackUI.Run)
	n.worker("settings", pub.Run)
	n.worker("number-rules", numberRules.Run)
	m.MonitorSizes(hot.Sizes)
	if proxies != nil {
		n.worker("vq-proxies", proxies.Run)
	}
	for _, p := range pools {
		n.worker("discovery-"+p.Service, p.Run)
	}
	return nil
}

// httpServer bounds every request of a port: its headers within 10 s,
// the whole request (a body trickled slowly included) within ReadTimeout,
// its answer within WriteTimeout, and a kept-alive connection's silence
// within IdleTimeout. The UI's live refresh is a short poll, so no answer
// legitimately takes longer; profiles extend their own write deadline
// (net/http/pprof adds the profile's duration to WriteTimeout).
func httpServer(port int, h http.Handler, c config.HTTPConfig) *http.Server {
	return &http.Server{Addr: ":" + strconv.Itoa(port), Handler: h,
		ReadHeaderTimeout: min(10*time.Second, c.ReadTimeout),
		ReadTimeout:       c.ReadTimeout, WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout}
}

// loopFault adds, with FAULT_INJECTION, POST /ges/v1/debug/loop-panic: a
// background loop panics, so operators (and tests) can check that a failed
// loop takes the node out of readiness and ends the process.
func (n *node) loopFault(mount func(chi.Router)) func(chi.Router) {
	fault := make(chan struct{}, 1)
	n.worker("fault-injection", func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return nil
		case <-fault:
			panic("fault injection: /ges/v1/debug/loop-panic")
		}
	})
	return func(r chi.Router) {
		r.Post("/ges/v1/debug/loop-panic", func(w http.ResponseWriter, _ *http.Request) {
			select {
			case fault <- struct{}{}:
			default:
			}
			w.WriteHeader(http.StatusAccepted)
		})
		mount(r)
	}
}

// interrupter ends ORS' work on a callback taken back (cancelled or moved)
// while ORS had it: its session is terminated, or its stream entry, still
// unread, withdrawn.
func interrupter(ors *voice.ORS, stream *voice.Stream) func(cb *callback.Callback) {
	return func(cb *callback.Callback) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if cb.Session == "" {
				if _, err := stream.Withdraw(ctx, cb.Entry); err != nil {
					slog.Warn("could not withdraw the stream entry of a callback taken back", "id", cb.ID, "err", err)
				}
				return
			}
			if ors == nil {
				return
			}
			if err := ors.Terminate(ctx, cb.Session); err != nil {
				slog.Warn("could not end the ORS session of a callback taken back", "id", cb.ID, "session", cb.Session, "err", err)
			}
		}()
	}
}

// healthChecker checks the node's connections. A Redis that answered the
// node's own commands within the last interval is not pinged.
func healthChecker(cfg *config.Config, version string, m *metrics.Metrics, n *node, interval time.Duration) *health.Checker {
	rdb, vdb, pool := n.rdb, n.vdb, n.pool
	checker := &health.Checker{Interval: interval, Timeout: 2 * time.Second, Version: version,
		Gauge: func(name string, ok bool) { m.SetHealth(name, ok) },
		Components: []health.Component{
			{Name: "redis", Gauge: metrics.RedisConnection, Required: true, Activity: n.rdbSeen,
				Check: func(c context.Context) error { return rdb.Ping(c).Err() }},
			{Name: "postgres", Required: true, Check: func(c context.Context) error { return pool.Ping(c) }},
			{Name: "orsRedis", Gauge: metrics.ORSRedisStatus, Activity: n.vdbSeen,
				Check: func(c context.Context) error { return vdb.Ping(c).Err() }},
			{Name: "gwsEnvironment", Gauge: metrics.GWSEnvStatus, Check: func(c context.Context) error { return probe(c, cfg.GWS.EnvURL) }},
		}}
	if cfg.GWS.AuthURL != "" {
		checker.Components = append(checker.Components, health.Component{Name: "gwsAuth", Gauge: metrics.GWSAuthStatus,
			Check: func(c context.Context) error { return probe(c, cfg.GWS.AuthURL) }})
	}
	if cfg.GWS.ConfURL != "" {
		checker.Components = append(checker.Components, health.Component{Name: "gwsConfiguration", Gauge: metrics.GWSConfigStatus,
			Check: func(c context.Context) error { return probe(c, cfg.GWS.ConfURL) }})
	}
	return checker
}

// group runs loops until ctx ends; done closes when all returned. A loop
// that fails (returns an error or panics before ctx ended) is reported on
// failed.
func group(ctx context.Context, loops []namedLoop, failed chan<- error) (done <-chan struct{}) {
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := loop.Guard(ctx, l.name, l.run); err != nil && ctx.Err() == nil {
				select {
				case failed <- fmt.Errorf("background loop %s: %w", l.name, err):
				default:
				}
			}
		}()
	}
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	return c
}

// serve starts the loops and the ports, waits for SIGTERM (ctx) or a
// failure, and stops everything in dependency order, each step bounded.
func (n *node) serve(ctx context.Context) error {
	failed := make(chan error, len(n.workers)+3)
	writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWriter()
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	writerDone := group(writerCtx, []namedLoop{n.writer}, failed)
	workDone := group(workCtx, n.workers, failed)

	for _, s := range n.servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			failed <- err
			break
		}
		go func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				failed <- err
			}
		}()
	}
	slog.Info("GES started", "version", n.version, "internalPort", n.cfg.InternalPort, "externalPort", n.cfg.ExternalPort)

	var runErr error
	select {
	case <-ctx.Done():
		n.checker.Unfit("shutting down")
	case runErr = <-failed:
		slog.Error("GES is unfit and stops", "err", runErr)
		n.checker.Unfit(runErr.Error())
	}
	slog.Info("GES stopping: draining requests")
	// Keep serving a moment while readiness is false, closing each
	// connection after its response: clients and load balancers move to
	// other nodes on new connections instead of finding a kept-alive one
	// cut under their next request.
	for _, s := range n.servers {
		s.SetKeepAlivesEnabled(false)
	}
	time.Sleep(drainDelay)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	for _, s := range n.servers {
		_ = s.Shutdown(sctx)
	}
	stopWork()
	if !waitDone(workDone, loopsGrace) {
		slog.Warn("background loops did not stop in time", "grace", loopsGrace.String())
	}
	stopWriter()
	if !waitDone(writerDone, writerGrace) {
		slog.Warn("postgres writer did not flush in time", "grace", writerGrace.String())
	}
	slog.Info("GES stopped")
	return runErr
}

func waitDone(done <-chan struct{}, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func migrateWithRetry(ctx context.Context, pool *pgxpool.Pool) error {
	// Start-up waits for the database on the wall clock: nothing runs yet
	// that a test clock could move.
	deadline := clock.System{}.Now().Add(60 * time.Second)
	for {
		err := pgstore.Migrate(ctx, pool)
		if err == nil {
			return nil
		}
		if (clock.System{}).Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("database migrations: %w", err)
		}
		slog.Warn("database not ready, retrying", "err", err)
		time.Sleep(time.Second)
	}
}

// probe checks that an HTTP dependency answers at all (any status).
func probe(ctx context.Context, base string) error {
	if base == "" {
		return errors.New("not configured")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// settingsFeed is the store as the settings publisher uses it: its
// subscription pings an idle Redis once a minute, not every 3 s.
type settingsFeed struct{ *redisstore.Store }

func (f settingsFeed) SettingsChanges(ctx context.Context) <-chan string { return f.SettingsFeed(ctx) }

// credentialsKey is the secret tenant credentials are sealed with:
// CREDENTIALS-KEY, else DECRYPT_PASSWORD, else the GWS client secret (every
// node of a deployment shares each of them).
func credentialsKey(cfg *config.Config) string {
	for _, k := range []string{cfg.Platform.CredentialsKey, cfg.DecryptPassword, cfg.GWS.ClientSecret} {
		if k != "" {
			return k
		}
	}
	return ""
}
