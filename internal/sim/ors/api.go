package ors

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
}

// Handler serves the ORS session HTTP API for the live sessions.
func (svc *Service) Handler() http.Handler {
	r := chi.NewRouter()
	r.NotFound(notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "405 Method Not Allowed"})
	})
	r.Post("/scxml/session/{sid}/terminate", func(w http.ResponseWriter, req *http.Request) {
		if !svc.Terminate(chi.URLParam(req, "sid")) {
			notFound(w, req)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	r.Post("/scxml/session/{sid}/request/{name}", svc.withSession(func(w http.ResponseWriter, req *http.Request, s *Session) {
		if chi.URLParam(req, "name") != "check-queue-position" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown request " + chi.URLParam(req, "name")})
			return
		}
		pos := svc.sessions.Position(s)
		writeJSON(w, http.StatusOK, map[string]string{"_position": strconv.Itoa(pos), "ewt": strconv.Itoa(svc.ewt(pos))})
	}))
	query := svc.withSession(func(w http.ResponseWriter, _ *http.Request, s *Session) {
		writeJSON(w, http.StatusOK, svc.describe(s))
	})
	r.Get("/scxml/session/{sid}/query", query)
	r.Post("/scxml/session/{sid}/query", query)
	return r
}

func (svc *Service) withSession(h func(http.ResponseWriter, *http.Request, *Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		s, ok := svc.sessions.Get(chi.URLParam(req, "sid"))
		if !ok {
			notFound(w, req)
			return
		}
		h(w, req, s)
	}
}

// describe is the session data a query returns.
func (svc *Service) describe(s *Session) map[string]any {
	pos := svc.sessions.Position(s)
	return map[string]any{
		"sessionid":   s.ID,
		"streamId":    s.Entry.StreamID,
		"ccid":        s.Entry.CCID,
		"callbackId":  s.Entry.CallbackID,
		"attempt":     s.Entry.Attempt,
		"serviceName": s.Entry.ServiceName,
		"state":       s.State(),
		"startedAt":   s.StartedAt.Format(time.RFC3339Nano),
		"_position":   strconv.Itoa(pos),
		"ewt":         strconv.Itoa(svc.ewt(pos)),
		"params":      s.Entry.Params,
	}
}
