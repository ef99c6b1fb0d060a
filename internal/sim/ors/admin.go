package ors

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// MountAdmin adds the /sim/ors/* inspection and tuning endpoints to r.
func (svc *Service) MountAdmin(r chi.Router) {
	r.Get("/sim/ors/entries", func(w http.ResponseWriter, req *http.Request) {
		from, _ := strconv.Atoi(req.URL.Query().Get("from"))
		writeJSON(w, http.StatusOK, svc.ledger.Records(from))
	})
	r.Get("/sim/ors/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, svc.ledger.Stats())
	})
	r.Get("/sim/ors/config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, svc.behaviour.Get())
	})
	r.Post("/sim/ors/config", func(w http.ResponseWriter, req *http.Request) {
		cfg, err := svc.behaviour.Patch(req.Body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		svc.log.Info("ors: behaviour changed", "config", cfg)
		writeJSON(w, http.StatusOK, cfg)
	})
}
