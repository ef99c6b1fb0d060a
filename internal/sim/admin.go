package sim

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// adminHandler serves the simulator's own API for tests and demos.
func (s *Sim) adminHandler() http.Handler {
	r := chi.NewRouter()
	r.Get("/sim/health", func(w http.ResponseWriter, _ *http.Request) {
		body := map[string]any{"status": "UP", "addrs": s.addrs, "designer": s.publish.snapshot()}
		code := http.StatusOK
		if !s.Ready() {
			body["status"], code = "DOWN", http.StatusServiceUnavailable
		}
		writeJSON(w, code, body)
	})
	s.ors.MountAdmin(r)
	r.Post("/sim/designer/publish", s.handlePublish)
	if s.urs != nil {
		s.urs.MountAdmin(r)
	}
	if s.stats != nil {
		s.stats.MountAdmin(r)
	}
	if s.conf != nil {
		s.conf.MountAdmin(r)
	}
	if s.fcm != nil {
		s.fcm.MountAdmin(r)
	}
	if s.captcha != nil {
		s.captcha.MountAdmin(r)
	}
	return r
}
