package httpapi

import (
	"net/http"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/pause"
)

// pausedView is a paused service as the admin API shows it.
type pausedView struct {
	Service  string `json:"service"`
	Paused   bool   `json:"paused"`
	PausedAt string `json:"pausedAt,omitempty"`
	PausedBy string `json:"pausedBy,omitempty"`
	Held     int    `json:"held"`
}

func viewPaused(p pause.Paused) pausedView {
	return pausedView{Service: p.Service, Paused: true, PausedAt: callback.FormatTime(p.At), PausedBy: p.By, Held: p.Held}
}

func (x *internal) pausesReady(w http.ResponseWriter) bool {
	if x.Pauses == nil {
		x.fail(w, http.StatusServiceUnavailable, excUnavailable, "Pausing services is not available")
		return false
	}
	return true
}

// pausedBy names who pauses: the UI user, or the service token.
func pausedBy(r *http.Request) string {
	if a := info(r.Context()).actor; a != "" {
		return a
	}
	return "admin"
}

func (x *internal) listPaused(w http.ResponseWriter, r *http.Request) {
	if !x.pausesReady(w) {
		return
	}
	ps, err := x.Pauses.List(r.Context(), info(r.Context()).tenant)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	out := make([]pausedView, len(ps))
	for i, p := range ps {
		out[i] = viewPaused(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"paused": out})
}

func (x *internal) pause(w http.ResponseWriter, r *http.Request) {
	if !x.pausesReady(w) {
		return
	}
	p, err := x.Pauses.Pause(r.Context(), info(r.Context()).tenant, param(r, "service"), pausedBy(r))
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewPaused(p))
}

func (x *internal) resume(w http.ResponseWriter, r *http.Request) {
	if !x.pausesReady(w) {
		return
	}
	n, err := x.Pauses.Resume(r.Context(), info(r.Context()).tenant, param(r, "service"))
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": param(r, "service"), "paused": false, "resumed": n})
}
