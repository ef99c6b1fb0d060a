// Package httpapi holds the HTTP side of GES: the external Engagement API,
// the internal GMS-compatible API, their envelopes and the middleware they
// share. Handlers translate the wire to callback.Service calls and back.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/ids"
	"github.com/gesgo/ges/internal/metrics"
)

// reqInfo travels with a request so that the outer middleware learns what
// the inner handlers found out (tenant, route) for metrics and logs.
type reqInfo struct {
	corrID string
	tenant string
	// actor names the principal of an admin API call (the UI user or the
	// service token).
	actor string
	path  string
}

type ctxKey struct{}

func info(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// unmatchedPath is the path label of every request no route matched (404,
// 405, preflights): labels are never taken from what a client sent, so the
// number of series stays bounded whatever paths are tried.
const unmatchedPath = "unmatched"

// methodLabel bounds the method label the same way: a client may send any
// token as its method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// observe assigns a correlation id, records metrics, writes the access
// line (access) and turns a panic into a 500 (counted as UNCAUGHT_EXCEPTION) instead of a
// dropped connection. fixedPath, when set, is the path label of every
// request (the internal port is "Private API Endpoint").
func observe(m *metrics.Metrics, clk clock.Clock, fixedPath string, onPanic func(http.ResponseWriter, *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := clk.Now()
			ri := &reqInfo{corrID: ids.New(), path: fixedPath}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				if p := recover(); p != nil {
					m.Alert(metrics.UncaughtException)
					slog.Error("panic serving request", "corrId", ri.corrID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					if sw.status == 0 {
						onPanic(sw, r)
					}
				}
				path := ri.path
				if path == "" {
					path = unmatchedPath
				}
				// The clock is a wall clock: one stepped back must not make
				// a negative duration.
				took := max(clk.Now().Sub(start), 0)
				code := sw.status
				if code == 0 {
					code = http.StatusOK // nothing written: net/http answers 200
				}
				method := methodLabel(r.Method)
				m.Request(ri.tenant, path, method, sw.status, took.Seconds())
				access(r, ri, fixedPath, method, code, took)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// access writes the access line of a request: at INFO, at WARN for a
// 5xx. It names the route pattern, never the path a client sent (paths
// and queries carry ids, phone numbers and user data), and stays cheap:
// no formatting when the level is off, attributes without maps.
func access(r *http.Request, ri *reqInfo, fixedPath, method string, code int, took time.Duration) {
	level := slog.LevelInfo
	if code >= 500 {
		level = slog.LevelWarn
	}
	ctx := r.Context()
	lg := slog.Default()
	if !lg.Enabled(ctx, level) {
		return
	}
	lg.LogAttrs(ctx, level, "access",
		slog.String("method", method),
		slog.String("route", routePattern(r, ri, fixedPath)),
		slog.Int("status", code),
		slog.Float64("ms", float64(took.Microseconds())/1000),
		slog.String("corrId", ri.corrID),
		slog.String("tenant", ri.tenant))
}

// routePattern is the chi pattern that served r ("/genesys/1/service/
// callback/{svc}/{id}"), or "unmatched" for 404s, 405s and preflights. A
// request refused by a sub-router's middleware before its routing (the
// external API's key check) has the route label that middleware found.
func routePattern(r *http.Request, ri *reqInfo, fixedPath string) string {
	if ri.path == unmatchedPath {
		return unmatchedPath
	}
	if ri.path != "" && ri.path != fixedPath {
		return ri.path
	}
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return unmatchedPath
}
