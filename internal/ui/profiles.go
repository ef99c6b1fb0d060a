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
		_, err := u.sessionFor(r, ReadProfiles)
		switch {
		case errors.Is(err, errNoSession):
			w.Header().Set("X-GES-Login", "/ges/login")
			http.Error(w, "Sign in to the Callback UI (/ges/login) as DevOps or a Callback Administrator and send its session cookie (ges_session).", http.StatusUnauthorized)
			return
		case errors.Is(err, errForbidden):
			http.Error(w, "Your role does not allow reading profiles (DevOps or Callback Administrator only).", http.StatusForbidden)
			return
		case err != nil:
			slog.Error("UI session store failed", "err", err)
			http.Error(w, "Session storage is unavailable, try again", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errForbidden = errors.New("the session's roles do not allow this")

// sessionFor is the session check of the clients that are tools rather
// than pages (profiles, the admin APIs): the session the request carries,
// its idle timeout restarted, if its roles grant right; errNoSession or
// errForbidden otherwise, never a redirect.
func (u *UI) sessionFor(r *http.Request, right Right) (*Session, error) {
	sess, err := u.sessions.load(r.Context(), cookieValue(r, sessionCookie), true)
	if err != nil {
		return nil, err
	}
	if !Can(sess.Roles, right) {
		return sess, errForbidden
	}
	return sess, nil
}
