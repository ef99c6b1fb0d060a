package ors

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/sim/fixture"
)

// Options tune the consumer; zero values take the defaults in brackets.
type Options struct {
	Consumer       string        // consumer name in the group [hostname-pid]
	Block          time.Duration // XREADGROUP BLOCK [2s]
	Count          int64         // XREADGROUP COUNT [50]
	ClaimEvery     time.Duration // XAUTOCLAIM period [10s]
	ClaimIdle      time.Duration // entries idle this long belong to a dead consumer [30s]
	HeartbeatEvery time.Duration // how often live entries are touched [10s]
	HTTPClient     *http.Client  // for reports to GES
	Logger         *slog.Logger
}

func (o *Options) defaults() {
	if o.Consumer == "" {
		host, _ := os.Hostname()
		o.Consumer = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if o.Block <= 0 {
		o.Block = 2 * time.Second
	}
	if o.Count <= 0 {
		o.Count = 50
	}
	if o.ClaimEvery <= 0 {
		o.ClaimEvery = 10 * time.Second
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = 30 * time.Second
	}
	if o.HeartbeatEvery <= 0 {
		o.HeartbeatEvery = 10 * time.Second
	}
	if o.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		o.HTTPClient = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Service is the simulated ORS: stream consumer, session player and HTTP API.
type Service struct {
	rdb       redis.UniversalClient
	behaviour *Behaviour
	sessions  *Registry
	ledger    *Ledger
	opts      Options
	stream    string
	group     string
	http      *http.Client
	log       *slog.Logger

	ready   atomic.Bool
	running sync.WaitGroup // live sessions
}

// New prepares a service; Run starts it.
func New(rdb redis.UniversalClient, cfg fixture.ORS, opts Options) *Service {
	opts.defaults()
	return &Service{
		rdb:       rdb,
		behaviour: NewBehaviour(cfg),
		sessions:  NewRegistry(),
		ledger:    &Ledger{},
		opts:      opts,
		stream:    cfg.StreamName,
		group:     cfg.ConsumerGroup,
		http:      opts.HTTPClient,
		log:       opts.Logger,
	}
}

// Ready reports whether the consumer group exists and entries are read.
func (svc *Service) Ready() bool { return svc.ready.Load() }

// Behaviour exposes the run-time settings.
func (svc *Service) Behaviour() *Behaviour { return svc.behaviour }

// Ledger exposes the consumed entries.
func (svc *Service) Ledger() *Ledger { return svc.ledger }

// Sessions exposes the live sessions.
func (svc *Service) Sessions() *Registry { return svc.sessions }

// Run consumes the stream until ctx ends, then stops every live session
// without acknowledging it, so a restarted simulator can reclaim the entry.
func (svc *Service) Run(ctx context.Context) error {
	if err := svc.ensureGroup(ctx); err != nil {
		return err
	}
	svc.ready.Store(true)
	svc.log.Info("ors: consuming", "stream", svc.stream, "group", svc.group, "consumer", svc.opts.Consumer)
	var loops sync.WaitGroup
	for _, loop := range []func(context.Context){svc.readLoop, svc.claimLoop, svc.heartbeatLoop} {
		loops.Go(func() { loop(ctx) })
	}
	loops.Wait()
	svc.ready.Store(false)
	svc.running.Wait()
	return nil
}

// ensureGroup creates the consumer group, waiting for Redis if it is not
// up yet: the simulator may start before the Voice Redis does.
func (svc *Service) ensureGroup(ctx context.Context) error {
	for {
		err := svc.createGroup(ctx)
		if err == nil {
			return nil
		}
		svc.log.Warn("ors: cannot create consumer group, retrying", "stream", svc.stream, "err", err)
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

func (svc *Service) createGroup(ctx context.Context) error {
	err := svc.rdb.XGroupCreateMkStream(ctx, svc.stream, svc.group, "$").Err()
	if err != nil && !isBusyGroup(err) {
		return err
	}
	return nil
}
