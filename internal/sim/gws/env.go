package gws

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/simhttp"
)

type status struct {
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
}

type contactCenter struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func view(cc fixture.ContactCenter) contactCenter { return contactCenter{ID: cc.ID, Name: cc.Name} }

// EnvHandler serves the GWS Environment contact-center lookups. Every call
// needs a bearer token issued by the simulated Auth service.
func EnvHandler(fx *fixture.Fixture, tokens *Tokens) http.Handler {
	r := chi.NewRouter()
	r.Use(requireBearer(tokens))
	r.Get("/environment/v3/contact-centers", func(w http.ResponseWriter, _ *http.Request) {
		all := make([]contactCenter, 0, len(fx.ContactCenters))
		for _, cc := range fx.ContactCenters {
			all = append(all, view(cc))
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": status{}, "data": all})
	})
	r.Get("/environment/v3/contact-centers/api-key/{key}", func(w http.ResponseWriter, req *http.Request) {
		cc, ok := fx.ContactCenterByAPIKey(chi.URLParam(req, "key"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"status": status{Code: 404, Message: "API key not found"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": status{}, "data": view(cc)})
	})
	r.Get("/environment/v3/contact-centers/{ccid}", func(w http.ResponseWriter, req *http.Request) {
		cc, ok := fx.ContactCenterByID(chi.URLParam(req, "ccid"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"status": status{Code: 404, Message: "Contact center not found"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": status{}, "data": view(cc)})
	})
	return r
}

type subjectKey struct{}

// requireBearer lets through requests carrying a live token from Auth and
// puts the token's subject in the request context.
func requireBearer(tokens *Tokens) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			sub, ok := tokens.Lookup(simhttp.Bearer(req))
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"status": status{Code: 401, Message: "Unauthorized"}})
				return
			}
			next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), subjectKey{}, sub)))
		})
	}
}

func subjectOf(req *http.Request) Subject {
	sub, _ := req.Context().Value(subjectKey{}).(Subject)
	return sub
}

func contextWith(req *http.Request, key, val any) context.Context {
	return context.WithValue(req.Context(), key, val)
}
