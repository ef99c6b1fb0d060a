package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/voice"
)

// platformTimeout bounds a call to ORS or URS made while answering a
// request: a slow platform must not make the API slow.
const platformTimeout = 1500 * time.Millisecond

type ewtView struct {
	VirtualQueue      string `json:"virtualQueue"`
	EstimatedWaitTime int    `json:"estimatedWaitTime"`
	Message           string `json:"message"`
	ResultCode        int    `json:"resultCode"`
}

// tenantName is the contact center's name, which URS calls the tenant.
func (d *Deps) tenantName(ctx context.Context, ccid string) string {
	if t, err := d.Tenants.ByID(ctx, ccid); err == nil {
		return t.Name
	}
	return ""
}

// estimate asks URS for one virtual queue and renders the answer in the
// Engagement API's terms. It never fails: problems become -1 and a message.
func (d *Deps) estimate(ctx context.Context, tenantName, vq, aqt string) ewtView {
	v := ewtView{VirtualQueue: vq, EstimatedWaitTime: -1, ResultCode: -1}
	if d.URS == nil {
		v.Message = "Estimated wait time is not available: no URS is configured"
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, platformTimeout)
	defer cancel()
	e, err := d.URS.LVQ(ctx, tenantName, vq, aqt)
	switch {
	case errors.Is(err, voice.ErrNotFound):
		v.Message = "Unknown virtual queue: " + vq
	case err != nil:
		v.Message = "Estimated wait time is not available: URS cannot be reached"
	case e.NoAgents:
		v.Message, v.ResultCode = "No agents logged in", -2
	case e.EWT < 0:
		v.Message = "No interaction seen in the virtual queue yet"
	default:
		v.EstimatedWaitTime, v.ResultCode = e.EWT, 0
	}
	return v
}

func (x *external) estimatedWaitTime(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var vqs []string
	for _, v := range strings.Split(q.Get("virtual-queues"), ",") {
		if v = strings.TrimSpace(v); v != "" {
			vqs = append(vqs, v)
		}
	}
	if len(vqs) == 0 {
		x.fail(w, r, http.StatusBadRequest, "virtual-queues is required", nil)
		return
	}
	mode := q.Get("mode")
	if mode == "" {
		mode = "mode2"
	}
	aqt, ok := voice.AQT[mode]
	if !ok {
		x.fail(w, r, http.StatusBadRequest, "Invalid mode: "+truncate(mode, 32)+" (expected mode1, mode2 or mode3)", nil)
		return
	}
	if v := q.Get("include-calls-on-hold"); v != "" {
		if _, err := strconv.ParseBool(strings.ToLower(v)); err != nil {
			x.fail(w, r, http.StatusBadRequest, "Invalid include-calls-on-hold: "+truncate(v, 32)+" (expected true or false)", nil)
			return
		}
	}
	name := x.tenantName(r.Context(), info(r.Context()).tenant)
	out := make([]ewtView, len(vqs))
	var wg sync.WaitGroup
	for i, vq := range vqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = x.estimate(r.Context(), name, vq, aqt)
		}()
	}
	wg.Wait()
	x.ok(w, r, out)
}

// livePosition refreshes the queue figures of a callback in queue: from
// its ORS session first, else URS' figures for its virtual queue (before
// ORS has reported, or when its session does not answer); the last figures
// ORS reported remain when neither answers.
func (x *external) livePosition(ctx context.Context, cb *callback.Callback) {
	if !cb.State.InQueue() {
		return
	}
	if pos, ewt, ok := x.askSession(ctx, cb); ok {
		cb.Position, cb.EWT = pos, ewt
		return
	}
	if x.URS == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, platformTimeout)
	defer cancel()
	e, err := x.URS.LVQ(ctx, x.tenantName(ctx, cb.Tenant), cb.Service, voice.AQT["mode2"])
	if err != nil || e.NoAgents {
		return
	}
	if e.EWT >= 0 {
		cb.EWT = e.EWT
	}
	if cb.Position <= 0 && e.Position > 0 {
		cb.Position = e.Position
	}
}

// askSession sends check-queue-position to the callback's ORS session.
func (d *Deps) askSession(ctx context.Context, cb *callback.Callback) (pos, ewt int, ok bool) {
	if d.ORS == nil || cb.Session == "" {
		return 0, 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, platformTimeout)
	defer cancel()
	m, err := d.ORS.Request(ctx, cb.Session, "check-queue-position")
	if err != nil {
		return 0, 0, false
	}
	pos, okP := number(m["_position"])
	ewt, okE := number(m["ewt"])
	if !okE {
		ewt, okE = number(m["_ewt"])
	}
	return pos, ewt, okP || okE
}

func number(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		return int(x + 0.5), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return int(f + 0.5), err == nil
	}
	return 0, false
}
