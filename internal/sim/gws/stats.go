package gws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/simhttp"
)

// StatsPath is the GWS Statistics operation that peeks several statistic
// values at once (statistics-client "getStatValues").
const StatsPath = "/statistics/v3/operations/get-statistic-ex"

// Stats is the simulated GWS Statistics service.
type Stats struct {
	tokens *Tokens
	log    *slog.Logger
	now    func() time.Time
	fail   simhttp.Failures

	mu           sync.Mutex
	values       []fixture.StatValue
	calls        int
	byClient     map[string]int
	unauthorized int
}

// NewStats serves cfg's values to holders of tokens from Auth.
func NewStats(cfg fixture.Statistics, tokens *Tokens, log *slog.Logger) *Stats {
	if log == nil {
		log = slog.Default()
	}
	return &Stats{tokens: tokens, log: log, now: time.Now,
		values: append([]fixture.StatValue{}, cfg.Values...), byClient: map[string]int{}}
}

// statRequest is one statistic asked for. Name is the statistic (type) name;
// StatisticID is the caller's own label, echoed back.
type statRequest struct {
	Name        string          `json:"name"`
	StatisticID string          `json:"statisticId,omitempty"`
	ObjectID    string          `json:"objectId"`
	ObjectType  string          `json:"objectType,omitempty"`
	Definition  json.RawMessage `json:"definition,omitempty"`
}

type statRequestBody struct {
	Data *struct {
		Statistics []statRequest `json:"statistics"`
	} `json:"data,omitempty"`
	Statistics []statRequest `json:"statistics,omitempty"`
}

// PeekedValue is one statistic in the answer.
type PeekedValue struct {
	Name        string          `json:"name"`
	StatisticID string          `json:"statisticId,omitempty"`
	ObjectID    string          `json:"objectId"`
	ObjectType  string          `json:"objectType"`
	Timestamp   int64           `json:"timestamp"`
	Value       json.RawMessage `json:"value"`
}

type statError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Handler serves the Statistics API.
func (s *Stats) Handler() http.Handler {
	r := chi.NewRouter()
	r.Post(StatsPath, s.getStatisticEx)
	return r
}

func (s *Stats) getStatisticEx(w http.ResponseWriter, req *http.Request) {
	sub, ok := s.tokens.Lookup(simhttp.Bearer(req))
	if !ok {
		s.mu.Lock()
		s.unauthorized++
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"status": status{Code: 401, Message: "Unauthorized"}})
		return
	}
	s.mu.Lock()
	s.calls++
	s.byClient[sub.Client]++
	values := append([]fixture.StatValue{}, s.values...)
	s.mu.Unlock()
	if code, fail := s.fail.Take(); fail {
		if code == 0 {
			code = http.StatusInternalServerError
		}
		s.log.Info("stats: failing on purpose", "status", code)
		writeJSON(w, code, map[string]any{"status": status{Code: code, Message: http.StatusText(code) + " (injected by the simulator)"}})
		return
	}
	wanted, err := readStatRequests(req.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": status{Code: 400, Message: err.Error()}})
		return
	}
	ts := s.now().UnixMilli()
	visible := values[:0]
	for _, v := range values {
		if v.Client == "" || v.Client == sub.Client {
			visible = append(visible, v)
		}
	}
	out := []PeekedValue{}
	var errs []statError
	if wanted == nil {
		for _, v := range visible {
			out = append(out, PeekedValue{Name: v.Name, ObjectID: v.ObjectID, ObjectType: v.ObjectType, Timestamp: ts, Value: v.Value})
		}
	}
	for _, want := range wanted {
		v, ok := findStat(visible, want)
		if !ok {
			errs = append(errs, statError{Code: 404, Message: fmt.Sprintf("no statistic %q for object %q (%s)", want.Name, want.ObjectID, want.ObjectType)})
			continue
		}
		out = append(out, PeekedValue{Name: v.Name, StatisticID: want.StatisticID, ObjectID: v.ObjectID, ObjectType: v.ObjectType, Timestamp: ts, Value: v.Value})
	}
	body := map[string]any{"status": status{Code: 0, Message: "OK"}, "data": map[string]any{"statistics": out}}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	writeJSON(w, http.StatusOK, body)
}

// readStatRequests returns the statistics asked for, or nil for an empty
// body (or one naming none), which asks for every value the caller may see.
func readStatRequests(r io.Reader) ([]statRequest, error) {
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var body statRequestBody
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("request body is not a statistics request: %v", err)
	}
	list := body.Statistics
	if body.Data != nil {
		list = append(list, body.Data.Statistics...)
	}
	for i, st := range list {
		if st.Name == "" || st.ObjectID == "" {
			return nil, fmt.Errorf("statistics[%d] needs a name and an objectId", i)
		}
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

func findStat(values []fixture.StatValue, want statRequest) (fixture.StatValue, bool) {
	for _, v := range values {
		if v.Name == want.Name && v.ObjectID == want.ObjectID && (want.ObjectType == "" || want.ObjectType == v.ObjectType) {
			return v, true
		}
	}
	return fixture.StatValue{}, false
}

// StatsCalls is the admin view of the requests received.
type StatsCalls struct {
	Calls        int                  `json:"calls"` // authenticated calls, failed ones included
	ByClient     map[string]int       `json:"byClient"`
	Unauthorized int                  `json:"unauthorized"`
	Fail         simhttp.FailureState `json:"fail"`
}

// Calls returns the counters.
func (s *Stats) Calls() StatsCalls {
	s.mu.Lock()
	defer s.mu.Unlock()
	by := make(map[string]int, len(s.byClient))
	for k, v := range s.byClient {
		by[k] = v
	}
	return StatsCalls{Calls: s.calls, ByClient: by, Unauthorized: s.unauthorized, Fail: s.fail.State()}
}

// MountAdmin adds the /sim/stats/* endpoints to r.
func (s *Stats) MountAdmin(r chi.Router) {
	r.Get("/sim/stats/calls", func(w http.ResponseWriter, _ *http.Request) {
		simhttp.WriteJSON(w, http.StatusOK, s.Calls())
	})
	r.Delete("/sim/stats/calls", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		s.calls, s.unauthorized, s.byClient = 0, 0, map[string]int{}
		s.mu.Unlock()
		simhttp.WriteJSON(w, http.StatusOK, s.Calls())
	})
	failer := s.fail.HandleSet(http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout)
	r.Post("/sim/stats/fail", failer)
	r.Delete("/sim/stats/fail", failer)
	r.Get("/sim/stats/values", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		simhttp.WriteJSON(w, http.StatusOK, fixture.Statistics{Values: append([]fixture.StatValue{}, s.values...)})
	})
	r.Post("/sim/stats/values", func(w http.ResponseWriter, req *http.Request) {
		var cfg fixture.Statistics
		if err := fixture.DecodeStrict(req.Body, &cfg); err != nil {
			simhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		for i, v := range cfg.Values {
			if v.Name == "" || v.ObjectID == "" || len(v.Value) == 0 {
				simhttp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("values[%d] needs name, objectId and value", i)})
				return
			}
		}
		s.mu.Lock()
		s.values = append([]fixture.StatValue{}, cfg.Values...)
		s.mu.Unlock()
		simhttp.WriteJSON(w, http.StatusOK, cfg)
	})
}
