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
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/monitor"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/voice"
)

// ShutdownGrace bounds the drain of in-flight requests on SIGTERM.
const ShutdownGrace = 20 * time.Second

func redisClient(addr, password string, useTLS, insecure, cluster bool, serverName string, dial func(context.Context, string, string) (net.Conn, error)) redis.UniversalClient {
	o := &redis.UniversalOptions{Addrs: []string{addr}, Password: password, IsClusterMode: cluster, Dialer: dial,
		DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, PoolSize: 64}
	if useTLS {
		o.TLSConfig = &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // the operator's rejectUnauthorized=false
	}
	return redis.NewUniversalClient(o)
}

// Run starts GES and blocks until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg *config.Config, version string, m *metrics.Metrics) error {
	clk := clock.System{}
	// Every outgoing HTTP call (GWS, ORS, URS, FCM, ...) goes through the
	// default transport: counting its DNS failures here covers them all.
	http.DefaultTransport = m.Transport(http.DefaultTransport)
	rdb := redisClient(cfg.Redis.Addr(), cfg.Redis.Password, cfg.Redis.TLS, false, cfg.Redis.Cluster, cfg.Redis.Host, m.Dial)
	defer rdb.Close()
	vdb := redisClient(cfg.Voice.Addr(), cfg.Voice.Password, cfg.Voice.TLS, !cfg.Voice.RejectUnauthorized, cfg.Voice.Cluster, cfg.Voice.ServerName, m.Dial)
	defer vdb.Close()

	pcfg, err := pgxpool.ParseConfig(cfg.DB.ConnString())
	if err != nil {
		return fmt.Errorf("database settings: %w", err)
	}
	pcfg.MaxConns = 16
	pcfg.ConnConfig.ConnectTimeout = 3 * time.Second
	pcfg.ConnConfig.DialFunc = m.Dial
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrateWithRetry(ctx, pool); err != nil {
		return err
	}

	hot := redisstore.New(rdb)
	durable := pgstore.New(pool)
	durable.Batches = func(n int) { m.PGBatch.Observe(float64(n)) }
	registry := settings.NewRegistry()
	env := gws.NewEnvironment(cfg.GWS.EnvURL, cfg.GWS.AuthURL, cfg.GWS.ClientID, cfg.GWS.ClientSecret)
	env.Status = func(ok bool) { m.SetHealth(metrics.GWSEnvStatus, ok) }
	pub := &publisher{durable: durable, hot: hot, registry: registry, clock: clk}
	var proxies *lob.Proxies
	if cfg.GWS.ConfURL != "" {
		conf := gws.NewConfiguration(cfg.GWS.ConfURL, cfg.GWS.AuthURL, cfg.GWS.ClientID, cfg.GWS.ClientSecret)
		conf.Status = func(ok bool) { m.SetHealth(metrics.GWSConfigStatus, ok) }
		proxies = &lob.Proxies{Objects: conf, Tables: registry.All, Interval: 5 * time.Minute, Retry: 5 * time.Second,
			Failed: func() { m.Alert(metrics.RBACCreateVQProxyError) }}
		pub.changed = proxies.Kick
	}
	if err := pub.loadAll(ctx); err != nil {
		slog.Warn("could not load published data tables yet", "err", err)
	}

	policy := callback.Policy{ReportTimeout: time.Duration(cfg.Monitor.ReportTimeoutSeconds) * time.Second, MaxAttempts: cfg.Monitor.MaxAttempts}
	svc := &callback.Service{Hot: hot, Durable: durable, Settings: registry, Clock: clk, Policy: policy,
		Created: func(t string) { m.CallbacksCreated.WithLabelValues(t).Inc() }}

	interval := time.Duration(cfg.Monitor.HealthIntervalSeconds) * time.Second
	checker := &health.Checker{Interval: interval, Timeout: 2 * time.Second, Version: version,
		Gauge: func(name string, ok bool) { m.SetHealth(name, ok) },
		Components: []health.Component{
			{Name: "redis", Gauge: metrics.RedisConnection, Required: true, Check: func(c context.Context) error { return rdb.Ping(c).Err() }},
			{Name: "postgres", Required: true, Check: func(c context.Context) error { return pool.Ping(c) }},
			{Name: "orsRedis", Gauge: metrics.ORSRedisStatus, Check: func(c context.Context) error { return vdb.Ping(c).Err() }},
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

	urs, ors, pools, err := platform(cfg, m)
	if err != nil {
		return err
	}
	if ors != nil {
		svc.Interrupted = func(cb *callback.Callback) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := ors.Terminate(ctx, cb.Session); err != nil {
					slog.Warn("could not end the ORS session of a cancelled callback", "id", cb.ID, "session", cb.Session, "err", err)
				}
			}()
		}
	}
	creds, err := credentials.New(pool, credentialsKey(cfg))
	if err != nil {
		return err
	}
	deps := httpapi.Deps{Callbacks: svc, Tenants: env, Metrics: m, URS: urs, ORS: ors, Credentials: creds}
	withStatisticsAndCaptcha(cfg, svc, &deps, creds)
	notifier := withPush(cfg, svc, &deps, creds, registry, durable, urs, env, m)
	deps.Callin = &callin.Service{Store: durable.CallinStore(), Clock: clk,
		Created: func(t string) { m.CallinCreated.WithLabelValues(t).Inc() }}
	callbackUI := withUI(cfg, rdb, pool, &deps, pub, env)
	internalH := httpapi.Internal(httpapi.InternalDeps{Deps: deps, Publisher: pub, Health: checker, BaseURL: cfg.InternalURL, FaultInjection: cfg.Platform.FaultInjection, Extra: callbackUI.Mount})
	externalH := httpapi.External(deps)

	dispatcher := &monitor.Dispatcher{Store: hot, Callbacks: svc, Stream: voice.NewStream(vdb, cfg.Voice.StreamName), Settings: registry,
		TenantName: func(c context.Context, ccid string) string {
			if t, err := env.ByID(c, ccid); err == nil {
				return t.Name
			}
			return ""
		},
		GESURL: cfg.InternalURL, Lease: time.Duration(cfg.Monitor.LeaseSeconds) * time.Second,
		Batch: cfg.Monitor.BatchSize, Workers: 16, MaxIdle: time.Minute,
		SubmitFailed: func() { m.Alert(metrics.CBSubmitFailed) }}
	restorer := &monitor.Restorer{Hot: hot, Durable: durable, Policy: policy, Interval: interval}
	retention := &monitor.Retention{Durable: durable, Interval: time.Hour, Now: clk.Now}

	// Background loops stop after the HTTP servers have drained, so that
	// requests in flight can still write.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	loop := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(bg); err != nil {
				slog.Error("background loop stopped", "loop", name, "err", err)
			}
		}()
	}
	loop("postgres-writer", func(c context.Context) error { return durable.Run(c, 4) })
	loop("health", checker.Run)
	loop("restore", restorer.Run)
	loop("dispatcher", dispatcher.Run)
	loop("retention", retention.Run)
	loop("push", notifier.Run)
	loop("callin-sweeper", func(c context.Context) error { return deps.Callin.RunSweeper(c, time.Minute) })
	loop("ui-error-log", callbackUI.Run)
	loop("settings", pub.follow)
	loop("monitor-size", func(c context.Context) error { return monitorSize(c, hot, m, interval) })
	if proxies != nil {
		loop("vq-proxies", proxies.Run)
	}
	for _, p := range pools {
		loop("discovery-"+p.Service, p.Run)
	}

	servers := []*http.Server{
		{Addr: ":" + strconv.Itoa(cfg.InternalPort), Handler: internalH, ReadHeaderTimeout: 10 * time.Second},
		{Addr: ":" + strconv.Itoa(cfg.ExternalPort), Handler: externalH, ReadHeaderTimeout: 10 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			stopBG()
			wg.Wait()
			return err
		}
		go func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	slog.Info("GES started", "version", version, "internalPort", cfg.InternalPort, "externalPort", cfg.ExternalPort)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	slog.Info("GES stopping: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	stopBG()
	wg.Wait()
	slog.Info("GES stopped")
	return runErr
}

func migrateWithRetry(ctx context.Context, pool *pgxpool.Pool) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := pgstore.Migrate(ctx, pool)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
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

func monitorSize(ctx context.Context, hot *redisstore.Store, m *metrics.Metrics, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if w, f, err := hot.Sizes(ctx); err == nil {
			m.MonitorSize.WithLabelValues("waiting").Set(float64(w))
			m.MonitorSize.WithLabelValues("inflight").Set(float64(f))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

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
