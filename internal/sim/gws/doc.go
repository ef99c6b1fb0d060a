// Package gws simulates the Genesys Web Services GES depends on: GWS Auth
// (OAuth2 client credentials, the authorization-code flow with a login form,
// userinfo), GWS Environment (contact centers and their API keys), GWS
// Statistics (peeking statistic values) and enough of the GWS Configuration
// API for callback VQ proxy objects, users and access groups.
package gws

import (
	"encoding/json"
	"net/http"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
