package ui

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/go-chi/chi/v5"
)

// mountProfiles serves the node's runtime profiles (net/http/pprof) under
// /debug/pprof/ to a signed-in DevOps user or Callback Administrator. The
// clients are tools (curl, go tool pprof), so a request without a session
// gets 401 and one of another role 403, as plain text, never the sign-in
// page.
func (u *UI) mountProfiles(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(u.profileReader)
		r.Get("/debug/pprof", redirectTo("/debug/pprof/"))
		r.Get("/debug/pprof/cmdline", pprof.Cmdline)
		r.Get("/debug/pprof/profile", pprof.Profile)
		r.Get("/debug/pprof/symbol", pprof.Symbol)
		r.Get("/debug/pprof/trace", pprof.Trace)
		r.Get("/debug/pprof/*", pprof.Index) // the index and the named profiles: heap, goroutine, allocs, ...
	})
}

// profileReader lets through the requests of a session whose roles may
// read profiles.
func (u *UI) profileReader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		sess, err := u.sessions.load(r.Context(), cookieValue(r, sessionCookie), true)
		switch {
		case errors.Is(err, errNoSession):
			w.Header().Set("X-GES-Login", "/ges/login")
			http.Error(w, "Sign in to the Callback UI (/ges/login) as DevOps or a Callback Administrator and send its session cookie (ges_session).", http.StatusUnauthorized)
			return
		case err != nil:
			slog.Error("UI session store failed", "err", err)
			http.Error(w, "Session storage is unavailable, try again", http.StatusServiceUnavailable)
			return
		case !Can(sess.Roles, ReadProfiles):
			http.Error(w, "Your role does not allow reading profiles (DevOps or Callback Administrator only).", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
