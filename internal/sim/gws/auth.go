package gws

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
)

// TokenTTL is the lifetime of an issued access token.
const TokenTTL = time.Hour

// AuthHandler serves POST /auth/v3/oauth/token for the fixture's clients.
func AuthHandler(clients []fixture.Client, tokens *Tokens, log *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Post("/auth/v3/oauth/token", func(w http.ResponseWriter, req *http.Request) {
		if err := req.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
			return
		}
		if gt := req.PostForm.Get("grant_type"); gt != "client_credentials" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
			return
		}
		id, secret, ok := req.BasicAuth()
		if !ok {
			id, secret = req.PostForm.Get("client_id"), req.PostForm.Get("client_secret")
		}
		if !knownClient(clients, id, secret) {
			log.Info("auth: rejected client", "client", id)
			w.Header().Set("WWW-Authenticate", `Basic realm="gws"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": tokens.Issue(TokenTTL),
			"token_type":   "bearer",
			"expires_in":   int(TokenTTL / time.Second),
		})
	})
	return r
}

func knownClient(clients []fixture.Client, id, secret string) bool {
	for _, c := range clients {
		if c.ID == id && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1 {
			return true
		}
	}
	return false
}
