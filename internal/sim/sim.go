// Package sim assembles the simulated Genesys platform: GWS Auth, GWS
// Environment, ORS and the simulator's own admin API, each on its own
// listener as in a real deployment, plus the Designer publisher. GES reaches
// all of it over the real protocols, so pointing GES at a real platform is a
// configuration change.
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

	"github.com/gesgo/ges/internal/sim/designer"
	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/gws"
	"github.com/gesgo/ges/internal/sim/ors"
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
	PublishTo          string // GES internal base URL; empty: publish nothing at start
	PublishRetry       designer.Retry
	ORS                ors.Options
	Logger             *slog.Logger
}

// Addrs are the bound listener addresses (useful with port 0).
type Addrs struct {
	Auth  string `json:"auth"`
	Env   string `json:"env"`
	ORS   string `json:"ors"`
	Admin string `json:"admin"`
}

// Sim is a running simulator.
type Sim struct {
	cfg     Config
	log     *slog.Logger
	rdb     *redis.Client
	ors     *ors.Service
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
	handlers := []struct {
		name, addr string
		bound      *string
		h          http.Handler
	}{
		{"auth", cfg.AuthAddr, &s.addrs.Auth, gws.AuthHandler(cfg.Fixture.Clients, tokens, s.log)},
		{"env", cfg.EnvAddr, &s.addrs.Env, gws.EnvHandler(cfg.Fixture, tokens)},
		{"ors", cfg.ORSAddr, &s.addrs.ORS, s.ors.Handler()},
		{"admin", cfg.AdminAddr, &s.addrs.Admin, s.adminHandler()},
	}
	var lns []net.Listener
	for _, h := range handlers {
		ln, err := net.Listen("tcp", h.addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			_ = s.rdb.Close()
			return nil, fmt.Errorf("sim: %s listener: %w", h.name, err)
		}
		lns = append(lns, ln)
		*h.bound = ln.Addr().String()
		s.servers = append(s.servers, &http.Server{Handler: h.h, ReadHeaderTimeout: 10 * time.Second})
		s.log.Info("listening", "service", h.name, "addr", *h.bound)
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
	s.done.Wait()
	errs = append(errs, s.orsErr, s.rdb.Close())
	return errors.Join(errs...)
}
