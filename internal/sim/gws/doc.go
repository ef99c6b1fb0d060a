// Package gws simulates the two Genesys Web Services that GES depends on at
// start and on every external request: GWS Auth (OAuth2 client credentials)
// and GWS Environment (contact centers and their API keys).
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
