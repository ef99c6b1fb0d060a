// Package sim assembles the simulated Genesys platform: GWS Auth, GWS
// Environment, ORS and the simulator's own admin API, each on its own
// listener as in a real deployment, plus the Designer publisher; and, when
// their addresses are given, URS (one or more instances), GWS Statistics,
// GWS Configuration, FCM and reCAPTCHA. GES reaches all of it over the real
// protocols, so pointing GES at a real platform is a configuration change.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/sim/captcha"
	"github.com/gesgo/ges/internal/sim/designer"
	"github.com/gesgo/ges/internal/sim/fcm"
	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/gws"
	"github.com/gesgo/ges/internal/sim/ors"
	"github.com/gesgo/ges/internal/sim/urs"
)

// Config is what `gessim serve` is given.
type Config struct {
	Fixture            *fixture.Fixture
	VoiceRedis         string // host:port of the Voice Redis holding the stream
	VoiceRedisPassword string
	AuthAddr           string
	EnvAddr            string
	ORSAddr            string
	AdminAddr          string

	// Optional services: an empty address leaves the service out.
	URSAddrs    []string // one URS instance per address, index = position
	StatsAddr   string   // GWS Statistics
	ConfAddr    string   // GWS Configuration
	FCMAddr     string   // Firebase Cloud Messaging and its token endpoint
	CaptchaAddr string   // reCAPTCHA siteverify

	PublishTo    string // GES internal base URL; empty: publish nothing at start
	PublishToken string // GES' DESIGNER-API-TOKEN, presented on every publish
	PublishRetry designer.Retry
	ORS          ors.Options
	Logger       *slog.Logger
}

// Addrs are the bound listener addresses (useful with port 0).
type Addrs struct {
	Auth    string   `json:"auth"`
	Env     string   `json:"env"`
	ORS     string   `json:"ors"`
	Admin   string   `json:"admin"`
	URS     []string `json:"urs,omitempty"`
	Stats   string   `json:"stats,omitempty"`
	Conf    string   `json:"conf,omitempty"`
	FCM     string   `json:"fcm,omitempty"`
	Captcha string   `json:"captcha,omitempty"`
}

// Sim is a running simulator.
type Sim struct {
	cfg     Config
	log     *slog.Logger
	rdb     *redis.Client
	ors     *ors.Service
	urs     *urs.Service     // nil when not started
	stats   *gws.Stats       // nil when not started
	conf    *gws.Config      // nil when not started
	fcm     *fcm.Service     // nil when not started
	captcha *captcha.Service // nil when not started
	addrs   Addrs
	servers []*http.Server
	publish *publishState

	cancel context.CancelFunc
	done   sync.WaitGroup
	orsErr error
}

// Start binds every listener, then serves and consumes in the background.
func Start(cfg Config) (*Sim, error) {
	if cfg.Fixture == nil {
		return nil, errors.New("sim: no fixture")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PublishRetry == (designer.Retry{}) {
		cfg.PublishRetry = designer.DefaultRetry
	}
	cfg.ORS.Logger = cfg.Logger
	s := &Sim{cfg: cfg, log: cfg.Logger, publish: newPublishState()}
	s.rdb = redis.NewClient(&redis.Options{Addr: cfg.VoiceRedis, Password: cfg.VoiceRedisPassword})
	s.ors = ors.New(s.rdb, cfg.Fixture.ORS, cfg.ORS)

	tokens := gws.NewTokens()
	type service struct {
		name, addr string
		bound      *string
		h          func() http.Handler // called once every part exists
	}
	handlers := []service{
		{"auth", cfg.AuthAddr, &s.addrs.Auth, gws.NewAuth(cfg.Fixture, tokens, s.log).Handler},
		{"env", cfg.EnvAddr, &s.addrs.Env, func() http.Handler { return gws.EnvHandler(cfg.Fixture, tokens) }},
		{"ors", cfg.ORSAddr, &s.addrs.ORS, s.ors.Handler},
	}
	if cfg.StatsAddr != "" {
		s.stats = gws.NewStats(cfg.Fixture.Statistics, tokens, s.log)
		handlers = append(handlers, service{"stats", cfg.StatsAddr, &s.addrs.Stats, s.stats.Handler})
	}
	if cfg.ConfAddr != "" {
		s.conf = gws.NewConfig(cfg.Fixture, tokens, s.log)
		handlers = append(handlers, service{"conf", cfg.ConfAddr, &s.addrs.Conf, s.conf.Handler})
	}
	if cfg.FCMAddr != "" {
		var err error
		if s.fcm, err = fcm.New(cfg.Fixture.FCM, s.log); err != nil {
			_ = s.rdb.Close()
			return nil, fmt.Errorf("sim: %w", err)
		}
		handlers = append(handlers, service{"fcm", cfg.FCMAddr, &s.addrs.FCM, s.fcm.Handler})
	}
	if cfg.CaptchaAddr != "" {
		s.captcha = captcha.New(cfg.Fixture.Captcha, s.log)
		handlers = append(handlers, service{"captcha", cfg.CaptchaAddr, &s.addrs.Captcha, s.captcha.Handler})
	}
	handlers = append(handlers, service{"admin", cfg.AdminAddr, &s.addrs.Admin, s.adminHandler})
	var lns []net.Listener
	cleanup := func() {
		for _, l := range lns {
			_ = l.Close()
		}
		_ = s.rdb.Close()
	}
	for _, h := range handlers {
		ln, err := net.Listen("tcp", h.addr)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("sim: %s listener: %w", h.name, err)
		}
		lns = append(lns, ln)
		*h.bound = ln.Addr().String()
		s.log.Info("listening", "service", h.name, "addr", *h.bound)
	}
	if len(cfg.URSAddrs) > 0 {
		u, err := urs.Start(cfg.Fixture.URS, cfg.URSAddrs, s.log)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("sim: %w", err)
		}
		s.urs, s.addrs.URS = u, u.Addrs()
	}
	// Handlers are built last: the admin API mounts the optional services
	// and reports every bound address.
	for _, h := range handlers {
		s.servers = append(s.servers, &http.Server{Handler: h.h(), ReadHeaderTimeout: 10 * time.Second})
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for i, srv := range s.servers {
		ln := lns[i]
		s.done.Go(func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("server stopped", "addr", ln.Addr().String(), "err", err)
			}
		})
	}
	s.done.Go(func() {
		if err := s.ors.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.orsErr = err
		}
	})
	if cfg.PublishTo != "" {
		s.done.Go(func() { s.publishAtStart(ctx) })
	}
	return s, nil
}

// Addrs returns the bound addresses.
func (s *Sim) Addrs() Addrs { return s.addrs }

// ORS returns the simulated ORS.
func (s *Sim) ORS() *ors.Service { return s.ors }

// URS returns the simulated URS instances, or nil when none was started.
func (s *Sim) URS() *urs.Service { return s.urs }

// Ready reports whether every part is up.
func (s *Sim) Ready() bool { return s.ors.Ready() }

// Close stops consuming, ends live sessions (their entries stay pending for
// a later simulator to reclaim), and shuts the listeners down.
func (s *Sim) Close(ctx context.Context) error {
	s.cancel()
	var errs []error
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.urs != nil {
		if err := s.urs.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.done.Wait()
	errs = append(errs, s.orsErr, s.rdb.Close())
	return errors.Join(errs...)
}
