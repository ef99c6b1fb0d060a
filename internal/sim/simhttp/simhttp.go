// Package simhttp holds the small HTTP pieces the simulated services share:
// JSON answers, bearer-token extraction and run-time failure injection.
package simhttp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// WriteJSON answers v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Bearer returns the token of an "Authorization: Bearer" header, or "".
func Bearer(req *http.Request) string {
	scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Failures makes a service fail on purpose: the next N calls, or every call
// until cleared. The zero value fails nothing.
type Failures struct {
	mu      sync.Mutex
	left    int // calls still to fail; -1: every call
	status  int
	applied int
}

// Set arms the failures: n > 0 fails the next n calls, n < 0 fails every
// call until Clear, n == 0 clears. status 0 keeps the service's default.
func (f *Failures) Set(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < 0 {
		n = -1
	}
	f.left, f.status = n, status
}

// Clear stops failing.
func (f *Failures) Clear() { f.Set(0, 0) }

// Take reports whether this call must fail and with which status (0 = the
// service's default), using up one armed failure.
func (f *Failures) Take() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.left == 0 {
		return 0, false
	}
	if f.left > 0 {
		f.left--
	}
	f.applied++
	return f.status, true
}

// FailureState is what the admin API reports about armed failures.
type FailureState struct {
	Left    int `json:"left"` // -1: every call fails until cleared
	Status  int `json:"status,omitempty"`
	Applied int `json:"applied"` // calls failed on purpose so far
}

// State returns the current settings.
func (f *Failures) State() FailureState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FailureState{Left: f.left, Status: f.status, Applied: f.applied}
}

// HandleSet serves the admin "fail" endpoints: POST ?count=N[&status=S]
// arms N failures (no count: every call until DELETE or count=0); DELETE
// clears. allowed lists the statuses ?status= may pick, the first being the
// default; nil accepts any 4xx/5xx.
func (f *Failures) HandleSet(allowed ...int) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodDelete {
			f.Clear()
			WriteJSON(w, http.StatusOK, f.State())
			return
		}
		q := req.URL.Query()
		n := -1
		if s := q.Get("count"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 {
				WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "count must be a non-negative integer"})
				return
			}
			n = v
		}
		status := 0
		if s := q.Get("status"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || !statusAllowed(v, allowed) {
				WriteJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("status must be one of %v", allowedText(allowed))})
				return
			}
			status = v
		}
		f.Set(n, status)
		WriteJSON(w, http.StatusOK, f.State())
	}
}

func statusAllowed(s int, allowed []int) bool {
	if len(allowed) == 0 {
		return s >= 400 && s <= 599
	}
	for _, a := range allowed {
		if a == s {
			return true
		}
	}
	return false
}

func allowedText(allowed []int) any {
	if len(allowed) == 0 {
		return "400-599"
	}
	return allowed
}
