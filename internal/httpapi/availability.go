package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/voice"
)

// localTimeFormat renders a slot in the caller's zone with a numeric offset
// (the Java client refuses a bare Z-less or colon-less offset).
const localTimeFormat = "2006-01-02T15:04:05.000-07:00"

// openForLimit bounds how far open-for looks ahead.
const openForLimit = 7 * 24 * time.Hour

// windowQuery reads the time window of availability and open-for.
type windowQuery struct {
	loc      *time.Location
	zone     string
	start    time.Time
	end      time.Time
	hasEnd   bool
	maxSlots int
	busy     bool
}

func badParam(name, v, want string) error {
	return fmt.Errorf("Invalid %s: %q (%s)", name, v, want)
}

// parseWindow applies the precedence of the published clients' parameters:
// startMS > start > now; endMS > end > numberOfDays > end of start's day.
func parseWindow(q url.Values, now time.Time, startKey, endKey, daysKey, maxKey string) (windowQuery, error) {
	w := windowQuery{loc: time.UTC, zone: "UTC"}
	if z := q.Get("timezone"); z != "" {
		loc, err := time.LoadLocation(z)
		if err != nil || strings.EqualFold(z, "local") {
			return w, badParam("timezone", z, "expected an IANA time zone such as America/Toronto")
		}
		w.loc, w.zone = loc, z
	}
	epoch := func(name string) (time.Time, bool, error) {
		v := q.Get(name)
		if v == "" {
			return time.Time{}, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, false, badParam(name, v, "expected epoch milliseconds")
		}
		return time.UnixMilli(n).UTC(), true, nil
	}
	wire := func(name string) (time.Time, bool, error) {
		v := q.Get(name)
		if v == "" {
			return time.Time{}, false, nil
		}
		t, ok := parseWireTime(v, w.loc)
		if !ok {
			return time.Time{}, false, badParam(name, v, "expected an ISO 8601 date-time")
		}
		return t, true, nil
	}
	w.start = now
	if t, ok, err := epoch("startMS"); err != nil {
		return w, err
	} else if ok {
		w.start = t
	} else if t, ok, err := wire(startKey); err != nil {
		return w, err
	} else if ok {
		w.start = t
	}
	if t, ok, err := epoch("endMS"); err != nil {
		return w, err
	} else if ok {
		w.end, w.hasEnd = t, true
	} else if t, ok, err := wire(endKey); err != nil {
		return w, err
	} else if ok {
		w.end, w.hasEnd = t, true
	} else if v := q.Get(daysKey); v != "" {
		n, err := strconv.Atoi(v)
		// More days than a time.Duration holds would wrap around.
		if err != nil || n < 0 || int64(n) > math.MaxInt64/int64(24*time.Hour) {
			return w, badParam(daysKey, v, "expected a number of days")
		}
		w.end, w.hasEnd = w.start.Add(time.Duration(n)*24*time.Hour), true
	}
	if !w.hasEnd {
		l := w.start.In(w.loc)
		w.end = time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, w.loc)
	}
	if w.end.Before(w.start) {
		return w, fmt.Errorf("The window ends before it starts")
	}
	if v := q.Get(maxKey); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return w, badParam(maxKey, v, "expected a number")
		}
		w.maxSlots = n
	}
	if v := q.Get("reportBusy"); v != "" {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return w, badParam("reportBusy", v, "expected true or false")
		}
		w.busy = b
	}
	return w, nil
}

type slotView struct {
	UTCTime   string `json:"utcTime"`
	LocalTime string `json:"localTime"`
	Capacity  int    `json:"capacity"`
	Total     int    `json:"total"`
}

// pick keeps the slots to answer: free ones (and busy ones when asked),
// stopping after maxSlots free ones; busy ones do not count.
func (w windowQuery) pick(all []callback.SlotFree) []callback.SlotFree {
	var out []callback.SlotFree
	free := 0
	for _, s := range all {
		if w.maxSlots > 0 && free >= w.maxSlots {
			break
		}
		if s.Free <= 0 && !w.busy {
			continue
		}
		if s.Free > 0 {
			free++
		}
		out = append(out, s)
	}
	return out
}

func (x *external) service(w http.ResponseWriter, r *http.Request) (*settings.Service, bool) {
	svc, err := x.Callbacks.ServiceSettings(info(r.Context()).tenant, param(r, "name"))
	if err != nil {
		x.failErr(w, r, err)
		return nil, false
	}
	return svc, true
}

func (x *external) availability(w http.ResponseWriter, r *http.Request) {
	svc, ok := x.service(w, r)
	if !ok {
		return
	}
	q, err := parseWindow(r.URL.Query(), x.Callbacks.Clock.Now(), "start", "end", "numberOfDays", "maxTimeSlots")
	if err != nil {
		x.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	}
	all, err := x.Callbacks.Availability(r.Context(), info(r.Context()).tenant, svc, q.start, q.end)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	slots := []slotView{}
	for _, s := range q.pick(all) {
		slots = append(slots, slotView{UTCTime: callback.FormatTime(s.Start), LocalTime: s.Start.In(q.loc).Format(localTimeFormat), Capacity: s.Free, Total: s.Total})
	}
	x.ok(w, r, map[string]any{"slots": slots, "durationMin": svc.SlotMinutes, "timezone": q.zone})
}

func (x *external) openFor(w http.ResponseWriter, r *http.Request) {
	svc, ok := x.service(w, r)
	if !ok {
		return
	}
	q, err := parseWindow(r.URL.Query(), x.Callbacks.Clock.Now(), "start", "", "", "")
	if err != nil {
		x.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	}
	x.ok(w, r, map[string]int{"openFor": int(svc.Plan.OpenFor(q.start, openForLimit).Seconds())})
}

func (x *external) queueStatus(w http.ResponseWriter, r *http.Request) {
	svc, ok := x.service(w, r)
	if !ok {
		return
	}
	now := x.Callbacks.Clock.Now()
	ewt := x.estimate(r.Context(), x.tenantName(r.Context(), info(r.Context()).tenant), svc.Name, voice.AQT["mode2"]).EstimatedWaitTime
	immediate := svc.OfferImmediate && svc.Plan.IsOpen(now)
	if immediate && ewt > 0 {
		immediate = svc.Plan.OpenFor(now, openForLimit) > time.Duration(ewt)*time.Second
	}
	x.ok(w, r, map[string]any{"ewt": ewt, "offerImmediateCallback": immediate, "offerScheduledCallback": svc.OfferScheduled})
}

// gmsAvailability answers the GMS availability query: slot start -> free
// places, for slots with room.
func (x *internal) availability(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r).ID
	svc, err := x.Callbacks.ServiceSettings(tenant, param(r, "svc"))
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	q, err := parseWindow(r.URL.Query(), x.Callbacks.Clock.Now(), "start", "end", "number-of-days", "max-time-slots")
	if err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, err.Error())
		return
	}
	all, err := x.Callbacks.Availability(r.Context(), tenant, svc, q.start, q.end)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	out := map[string]int{}
	for _, s := range q.pick(all) {
		out[callback.FormatTime(s.Start)] = s.Free
	}
	writeJSON(w, http.StatusOK, out)
}
