package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/voice"
)

// checkQueuePosition relays check-queue-position to the callback's ORS
// session; when the session is gone it answers URS' estimate for the
// virtual queue, and 404 when neither knows.
func (x *internal) checkQueuePosition(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r)
	cb, err := x.Callbacks.Get(r.Context(), tenant.ID, param(r, "id"))
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	if !cb.State.InQueue() {
		x.fail(w, http.StatusBadRequest, excState, "Callback "+cb.ID+" is "+string(cb.State)+", not in queue")
		return
	}
	if x.ORS != nil && cb.Session != "" {
		ctx, cancel := context.WithTimeout(r.Context(), platformTimeout)
		m, err := x.ORS.Request(ctx, cb.Session, "check-queue-position")
		cancel()
		if err == nil {
			writeJSON(w, http.StatusOK, m)
			return
		}
	}
	v := x.estimate(r.Context(), tenant.Name, cb.Service, voice.AQT["mode2"])
	if v.ResultCode != 0 {
		x.fail(w, http.StatusNotFound, excNotFound, "The ORS session of callback "+cb.ID+" is gone and no estimate is available: "+v.Message)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ewt": v.EstimatedWaitTime})
}

// session answers the ORS session data of a callback (diagnostics).
func (x *internal) session(w http.ResponseWriter, r *http.Request) {
	cb, err := x.Callbacks.Get(r.Context(), tenantOf(r).ID, param(r, "id"))
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	if cb.Session == "" || x.ORS == nil {
		x.fail(w, http.StatusNotFound, excNotFound, "Callback "+cb.ID+" has no ORS session")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), platformTimeout)
	defer cancel()
	m, err := x.ORS.Query(ctx, cb.Session)
	if errors.Is(err, voice.ErrNotFound) {
		x.fail(w, http.StatusNotFound, excNotFound, "ORS no longer has session "+cb.Session)
		return
	}
	if err != nil {
		x.fail(w, http.StatusServiceUnavailable, excUnavailable, "ORS cannot be reached")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"callbackId": cb.ID, "sessionId": cb.Session, "session": m})
}

// watermarks counts, per service, the callbacks ORS is executing; every
// configured service appears, with 0 when idle.
func (x *internal) watermarks(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r).ID
	want := r.URL.Query()["service_name"]
	counts := map[string]int{}
	if t := x.Publisher.Table(tenant); t != nil {
		for _, n := range t.Names() {
			counts[n] = 0
		}
	}
	if extra := extraFilters(r, "service_name"); len(extra.Filters) > 0 {
		// GMS counts only the callbacks that match the filter keys.
		list, err := x.Callbacks.Query(r.Context(), tenant, callback.Query{Or: true,
			Filters: stateFilters([]string{string(callback.Queued), string(callback.Routing), string(callback.Processing)})})
		if err != nil {
			x.failErr(w, r, err)
			return
		}
		for _, cb := range list {
			if extra.Match(cb) {
				counts[cb.Service]++
			}
		}
	} else {
		live, err := x.Callbacks.Count(r.Context(), tenant, callback.Queued, callback.Routing, callback.Processing)
		if err != nil {
			x.failErr(w, r, err)
			return
		}
		for svc, n := range live {
			counts[svc] = n
		}
	}
	total := 0
	out := map[string]int{}
	for svc, n := range counts {
		if len(want) > 0 && !contains(want, svc) {
			continue
		}
		out[svc] = n
		total += n
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": out, "total": total})
}

func stateFilters(states []string) []callback.Filter {
	var f []callback.Filter
	for _, s := range states {
		f = append(f, callback.Filter{Key: callback.KeyState, Value: strings.ToUpper(strings.TrimSpace(s))})
	}
	return f
}

// extraFilters reads the query parameters other than the endpoint's own
// (known) as GMS filter keys, all of which a callback must match; a
// leading ! negates one. "_" is a client's cache buster.
func extraFilters(r *http.Request, known ...string) callback.Query {
	var q callback.Query
	for k, vs := range r.URL.Query() {
		if k == "_" || contains(known, k) {
			continue
		}
		for _, v := range vs {
			q.Filters = append(q.Filters, callback.ParseFilter(k, v))
		}
	}
	return q
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// queues lists callbacks by service within a desired-time window (default
// 15 minutes ago to 24 hours ahead), optionally by state.
func (x *internal) queues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := x.Callbacks.Clock.Now()
	from, to := now.Add(-15*time.Minute), now.Add(24*time.Hour)
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"start_time", &from}, {"end_time", &to}} {
		if v := q.Get(p.name); v != "" {
			t, ok := callback.ParseTime(v)
			if !ok {
				x.fail(w, http.StatusBadRequest, excInvalid, "Invalid "+p.name+": "+v)
				return
			}
			*p.dst = t
		}
	}
	limit := 0
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			x.fail(w, http.StatusBadRequest, excInvalid, "Invalid max: "+v)
			return
		}
		limit = n
	}
	query := callback.Query{Service: q.Get("target")}
	if v := q.Get("states"); v != "" {
		query.Or = true
		query.Filters = stateFilters(strings.Split(v, ","))
	}
	extra := extraFilters(r, "target", "start_time", "end_time", "max", "states")
	list, err := x.Callbacks.Query(r.Context(), tenantOf(r).ID, query)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	out := map[string][]map[string]string{}
	n := 0
	for _, cb := range list {
		if cb.Desired.Before(from) || cb.Desired.After(to) || !extra.Match(cb) {
			continue
		}
		if limit > 0 && n >= limit {
			break
		}
		out[cb.Service] = append(out[cb.Service], x.record(cb))
		n++
	}
	writeJSON(w, http.StatusOK, out)
}

// bulkCancel cancels several callbacks with one reason.
func (x *internal) bulkCancel(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r, InternalBodyLimit)
	if errors.Is(err, errTooLarge) {
		x.Metrics.Alert(metrics.InvalidContentLength)
		x.fail(w, http.StatusRequestEntityTooLarge, excInvalid, "Request body exceeds the limit of 10 MB")
		return
	}
	var body struct {
		Reason string   `json:"reason"`
		IDs    []string `json:"ids"`
	}
	if err == nil {
		// The checks of every JSON body: UTF-8, no lone surrogate, no
		// duplicate key.
		_, err = decodeObject(b)
	}
	if err == nil {
		err = json.Unmarshal(b, &body)
	}
	if err != nil || len(body.IDs) == 0 {
		x.fail(w, http.StatusBadRequest, excInvalid, "Expected {\"reason\": \"...\", \"ids\": [...]}"+problem(err))
		return
	}
	if err := callback.ValidateReason(body.Reason); err != nil {
		x.failErr(w, r, err)
		return
	}
	if body.Reason == "" {
		body.Reason = callback.ReasonCancelledByAdmin
	}
	cancelled := []string{}
	failed := map[string]string{}
	for _, id := range body.IDs {
		if _, err := x.Callbacks.Cancel(r.Context(), tenantOf(r).ID, id, body.Reason, "admin", true); err != nil {
			failed[id] = err.Error()
			continue
		}
		cancelled = append(cancelled, id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"cancelled": cancelled, "failed": failed})
}

// problem is the JSON problem of err for a message, if any.
func problem(err error) string {
	var ute *json.UnmarshalTypeError
	if err == nil || errors.As(err, &ute) { // the shape is what the message states
		return ""
	}
	return ": " + jsonProblem(err)
}
