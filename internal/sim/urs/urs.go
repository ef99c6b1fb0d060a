// Package urs simulates the Universal Routing Server's web API that GES asks
// for the estimated wait time and position of a virtual queue:
//
//	GET /urs/call/{connid}/lvq/{vq}?tenant=T&aqt=urs|urs2|stat
//
// Several instances can run at once (one per listener), sharing one queue
// table, so region-affinity tests can take one of them down and watch GES
// move to the other.
package urs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/simhttp"
)

// Down modes: how an instance taken down fails.
const (
	Mode503    = "503"    // answer every request 503 Service Unavailable
	ModeClose  = "close"  // accept, then close the connection without answering
	ModeRefuse = "refuse" // stop listening: connections are refused
)

// Answer is URS' lvq reply.
type Answer struct {
	EWT  float64 `json:"ewt"`
	Pos  int     `json:"pos"`
	WPos int     `json:"wpos"`
}

// Service is a set of URS instances sharing one queue table.
type Service struct {
	log *slog.Logger

	mu        sync.Mutex
	queues    map[string]fixture.URSQueue
	instances []*instance
	byQueue   map[string]int
	total     int
	closed    bool

	closing chan struct{}
	done    sync.WaitGroup
}

type instance struct {
	index int
	addr  string
	srv   *http.Server

	// guarded by Service.mu
	down    string // "" when up, else a Mode*
	byQueue map[string]int
	total   int
}

// Start binds one listener per address and serves until Close.
func Start(cfg fixture.URS, addrs []string, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{log: log, queues: cloneQueues(cfg.Queues), byQueue: map[string]int{}, closing: make(chan struct{})}
	var lns []net.Listener
	for i, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, fmt.Errorf("urs[%d] listener: %w", i, err)
		}
		lns = append(lns, ln)
		in := &instance{index: i, addr: ln.Addr().String(), byQueue: map[string]int{}}
		s.instances = append(s.instances, in)
		log.Info("listening", "service", "urs", "index", i, "addr", in.addr)
	}
	s.mu.Lock()
	for i, in := range s.instances {
		s.serveLocked(in, lns[i])
	}
	s.mu.Unlock()
	return s, nil
}

// serveLocked starts serving ln; s.mu is held so that Close, which marks
// the service closed under the same lock, never waits while one is added.
func (s *Service) serveLocked(in *instance, ln net.Listener) {
	srv := &http.Server{Handler: s.handler(in), ReadHeaderTimeout: 10 * time.Second}
	in.srv = srv
	s.done.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("urs: server stopped", "index", in.index, "err", err)
		}
	})
}

// Addrs returns the bound addresses, by instance index.
func (s *Service) Addrs() []string {
	out := make([]string, len(s.instances))
	for i, in := range s.instances {
		out[i] = in.addr
	}
	return out
}

// Close stops every instance.
func (s *Service) Close(ctx context.Context) error {
	var errs []error
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	servers := make([]*http.Server, 0, len(s.instances))
	for _, in := range s.instances {
		servers = append(servers, in.srv)
	}
	s.mu.Unlock()
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.done.Wait()
	return errors.Join(errs...)
}

func (s *Service) handler(in *instance) http.Handler {
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			s.mu.Lock()
			down := in.down
			s.mu.Unlock()
			switch down {
			case "":
				next.ServeHTTP(w, req)
			case ModeClose:
				closeConn(w)
			default:
				simhttp.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "URS is down"})
			}
		})
	})
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		simhttp.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	r.Get("/urs/health", func(w http.ResponseWriter, _ *http.Request) {
		simhttp.WriteJSON(w, http.StatusOK, map[string]any{"status": "UP", "index": in.index})
	})
	r.Get("/urs/call/{connid}/lvq/{vq}", func(w http.ResponseWriter, req *http.Request) { s.lvq(w, req, in) })
	return r
}

func closeConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func (s *Service) lvq(w http.ResponseWriter, req *http.Request, in *instance) {
	vq, err := url.PathUnescape(chi.URLParam(req, "vq"))
	if err != nil || vq == "" {
		simhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "bad virtual queue name"})
		return
	}
	aqt := req.URL.Query().Get("aqt")
	s.mu.Lock()
	q, ok := s.queues[vq]
	s.total++
	s.byQueue[vq]++
	in.total++
	in.byQueue[vq]++
	s.mu.Unlock()
	if !ok {
		simhttp.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "unknown virtual queue " + vq})
		return
	}
	if q.DelayMs > 0 {
		t := time.NewTimer(time.Duration(q.DelayMs) * time.Millisecond)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return
		case <-s.closing:
			t.Stop()
		}
	}
	simhttp.WriteJSON(w, http.StatusOK, answer(q, aqt))
}

func answer(q fixture.URSQueue, aqt string) Answer {
	a := Answer{EWT: q.EWT, Pos: q.Position, WPos: q.Position}
	if q.WPos != nil {
		a.WPos = *q.WPos
	}
	if v, ok := q.EWTByAQT[aqt]; ok {
		a.EWT = v
	}
	if q.NoAgents {
		a.EWT = -1
	}
	return a
}

// Config is the admin view and patch of the queue table.
type Config struct {
	Queues map[string]fixture.URSQueue `json:"queues"`
}

// Queues returns a copy of the queue table.
func (s *Service) Queues() map[string]fixture.URSQueue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneQueues(s.queues)
}

// Patch sets the given queues; a null queue deletes it; replace drops every
// queue not in the patch first.
func (s *Service) Patch(queues map[string]*fixture.URSQueue, replace bool) error {
	for name, q := range queues {
		if q != nil {
			if err := q.Validate(name); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if replace {
		s.queues = map[string]fixture.URSQueue{}
	}
	for name, q := range queues {
		if q == nil {
			delete(s.queues, name)
			continue
		}
		s.queues[name] = *q
	}
	return nil
}

// SetDown takes instance i down in the given mode, or back up with mode "".
func (s *Service) SetDown(i int, mode string) error {
	if i < 0 || i >= len(s.instances) {
		return fmt.Errorf("no URS instance %d (there are %d)", i, len(s.instances))
	}
	switch mode {
	case "", Mode503, ModeClose, ModeRefuse:
	default:
		return fmt.Errorf("unknown mode %q (want %s, %s or %s)", mode, Mode503, ModeClose, ModeRefuse)
	}
	in := s.instances[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("URS is shutting down")
	}
	was := in.down
	if was == mode {
		return nil
	}
	switch {
	case mode == ModeRefuse:
		// Close drops the listener and every open connection, so clients
		// see refused and reset connections as when the process dies.
		if err := in.srv.Close(); err != nil {
			return err
		}
	case was == ModeRefuse:
		ln, err := net.Listen("tcp", in.addr)
		if err != nil {
			return fmt.Errorf("urs[%d]: listen again on %s: %w", i, in.addr, err)
		}
		s.serveLocked(in, ln)
	}
	in.down = mode
	s.log.Info("urs: instance state changed", "index", i, "down", mode)
	return nil
}

// InstanceCalls is one instance's admin view.
type InstanceCalls struct {
	Index   int            `json:"index"`
	Addr    string         `json:"addr"`
	Up      bool           `json:"up"`
	Down    string         `json:"down,omitempty"` // the down mode
	Total   int            `json:"total"`
	ByQueue map[string]int `json:"byQueue"`
}

// Calls is the admin view of the lvq requests received.
type Calls struct {
	Total     int             `json:"total"`
	ByQueue   map[string]int  `json:"byQueue"`
	Instances []InstanceCalls `json:"instances"`
}

// Calls counts the lvq requests received so far (unknown queues included;
// requests refused while down are not).
func (s *Service) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Calls{Total: s.total, ByQueue: cloneCounts(s.byQueue)}
	for _, in := range s.instances {
		c.Instances = append(c.Instances, InstanceCalls{Index: in.index, Addr: in.addr, Up: in.down == "",
			Down: in.down, Total: in.total, ByQueue: cloneCounts(in.byQueue)})
	}
	return c
}

// ResetCalls zeroes the counters.
func (s *Service) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total, s.byQueue = 0, map[string]int{}
	for _, in := range s.instances {
		in.total, in.byQueue = 0, map[string]int{}
	}
}

// MountAdmin adds the /sim/urs/* endpoints to r.
func (s *Service) MountAdmin(r chi.Router) {
	r.Get("/sim/urs/config", func(w http.ResponseWriter, _ *http.Request) {
		simhttp.WriteJSON(w, http.StatusOK, Config{Queues: s.Queues()})
	})
	r.Post("/sim/urs/config", func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Queues  map[string]*fixture.URSQueue `json:"queues"`
			Replace bool                         `json:"replace"`
		}
		if err := fixture.DecodeStrict(req.Body, &body); err != nil {
			simhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err := s.Patch(body.Queues, body.Replace); err != nil {
			simhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.log.Info("urs: queues changed", "queues", len(body.Queues), "replace", body.Replace)
		simhttp.WriteJSON(w, http.StatusOK, Config{Queues: s.Queues()})
	})
	r.Get("/sim/urs/calls", func(w http.ResponseWriter, _ *http.Request) {
		simhttp.WriteJSON(w, http.StatusOK, s.Calls())
	})
	r.Delete("/sim/urs/calls", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCalls()
		simhttp.WriteJSON(w, http.StatusOK, s.Calls())
	})
	setState := func(w http.ResponseWriter, req *http.Request, mode string) {
		i, err := strconv.Atoi(chi.URLParam(req, "index"))
		if err != nil {
			simhttp.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "instance index must be a number"})
			return
		}
		if err := s.SetDown(i, mode); err != nil {
			code := http.StatusBadRequest
			if i < 0 || i >= len(s.instances) {
				code = http.StatusNotFound
			}
			simhttp.WriteJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		simhttp.WriteJSON(w, http.StatusOK, s.Calls().Instances[i])
	}
	r.Post("/sim/urs/{index}/down", func(w http.ResponseWriter, req *http.Request) {
		mode := req.URL.Query().Get("mode")
		if mode == "" {
			mode = Mode503
		}
		setState(w, req, mode)
	})
	r.Post("/sim/urs/{index}/up", func(w http.ResponseWriter, req *http.Request) { setState(w, req, "") })
}

func cloneQueues(in map[string]fixture.URSQueue) map[string]fixture.URSQueue {
	out := make(map[string]fixture.URSQueue, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func cloneCounts(in map[string]int) map[string]int {
	out := make(map[string]int, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
