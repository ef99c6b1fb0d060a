package ui

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/settings"
)

// The display zone: the service's (the default), UTC, or another IANA
// zone (the browser's, which ges.js fills in). A tz parameter picks it
// and the tzCookie remembers it.
const (
	zoneService = "service"
	tzCookie    = "ges_tz"
	// maxPickerDays bounds the slot picker however long the service's
	// horizon is.
	maxPickerDays = 14
)

// zoneChoice returns the display zone the request asks for, remembering
// a new choice in a cookie.
func zoneChoice(w http.ResponseWriter, r *http.Request) string {
	if v := r.URL.Query().Get("tz"); v != "" {
		if c, ok := validZone(v); ok {
			http.SetCookie(w, &http.Cookie{Name: tzCookie, Value: c, Path: "/ges", MaxAge: 365 * 24 * 3600,
				SameSite: http.SameSiteLaxMode, HttpOnly: true, Secure: r.TLS != nil})
			return c
		}
	}
	if ck, err := r.Cookie(tzCookie); err == nil {
		if c, ok := validZone(ck.Value); ok {
			return c
		}
	}
	return zoneService
}

// validZone accepts "service", "UTC" and IANA zone names.
func validZone(v string) (string, bool) {
	if v == zoneService || v == "UTC" {
		return v, true
	}
	if len(v) > 64 || strings.Contains(v, "..") {
		return "", false
	}
	if _, err := time.LoadLocation(v); err != nil || v == "" || v == "Local" {
		return "", false
	}
	return v, true
}

// zoneOf resolves a display-zone choice for a service (nil: UTC).
func zoneOf(choice string, svc *settings.Service) *time.Location {
	switch choice {
	case zoneService:
		if svc != nil && svc.Location != nil {
			return svc.Location
		}
		return time.UTC
	case "UTC", "":
		return time.UTC
	}
	if loc, err := time.LoadLocation(choice); err == nil {
		return loc
	}
	return time.UTC
}

// formTimeIn reads a time from a form: RFC 3339 (with its offset), else
// an ISO date and time without offset read in loc.
func formTimeIn(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if loc == nil {
		loc = time.UTC
	}
	for _, l := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC(), true
		}
	}
	return callback.ParseTime(s)
}

// zoneView is the display zone as a page shows it.
type zoneView struct {
	// Choice is "service", "UTC" or an IANA name; Name the zone in use.
	Choice, Name string
	// Service is the service's zone name.
	Service string
}

func newZoneView(choice string, svc *settings.Service) zoneView {
	z := zoneView{Choice: choice, Name: zoneOf(choice, svc).String(), Service: "UTC"}
	if svc != nil && svc.Location != nil {
		z.Service = svc.Location.String()
	}
	return z
}

// slotPicker is a service's free slots over its horizon: a tab a day
// (with the day's free places) and the cells of the chosen day.
type slotPicker struct {
	Days []slotDay
	// Day is the chosen day.
	Day  slotDay
	Zone string
	// Action is the reschedule form's address; empty in the create form,
	// whose slot buttons send slot=<RFC 3339> with the form.
	Action string
	CSRF   string
}

type slotDay struct {
	// ID is the date (YYYY-MM-DD in the display zone); URL shows it, Frag
	// (create form only) is the fragment ges.js fetches for it.
	ID, Label, URL, Frag string
	Free, Total          int
	Fill                 int
	On                   bool
	Slots                []slotCell
}

// slotCell is one slot: Fill is 0 (empty) to 4 (full).
type slotCell struct {
	Start       time.Time
	Time        string
	Free, Total int
	Fill        int
	Full        bool
}

// fill grades a slot's use: 0 unused, 1-3 partly, 4 full.
func fill(free, total int) int {
	if free <= 0 || total <= 0 {
		return 4
	}
	used := total - free
	if used <= 0 {
		return 0
	}
	return min(3, (used*4+total-1)/total)
}

// pickerDays groups slots by their day in loc.
func pickerDays(slots []callback.SlotFree, loc *time.Location) []slotDay {
	var days []slotDay
	for _, s := range slots {
		l := s.Start.In(loc)
		id := l.Format("2006-01-02")
		if len(days) == 0 || days[len(days)-1].ID != id {
			days = append(days, slotDay{ID: id, Label: l.Format("Mon 2 Jan")})
		}
		c := slotCell{Start: s.Start, Time: l.Format("15:04"), Free: s.Free, Total: s.Total, Fill: fill(s.Free, s.Total), Full: s.Free <= 0}
		d := &days[len(days)-1]
		d.Slots = append(d.Slots, c)
		d.Free += s.Free
		d.Total += s.Total
	}
	for i := range days {
		days[i].Fill = fill(days[i].Free, days[i].Total)
	}
	return days
}

// picker builds the slot picker of svc from now over its horizon, showing
// the day of at (in loc) when it has slots, else the first; link is the
// address of a day's tab.
func (u *UI) picker(r *http.Request, sess *Session, svc *settings.Service, loc *time.Location, at time.Time, link func(day string) string) (*slotPicker, error) {
	days := max(min(svc.HorizonDays, maxPickerDays), 1)
	from := u.d.Clock.Now()
	slots, err := u.d.Callbacks.Availability(r.Context(), sess.Tenant, svc, from, from.Add(time.Duration(days)*24*time.Hour))
	if err != nil {
		return nil, err
	}
	p := &slotPicker{Days: pickerDays(slots, loc), Zone: loc.String(), CSRF: sess.CSRF}
	if len(p.Days) == 0 {
		return p, nil
	}
	want := r.URL.Query().Get("day")
	if want == "" && !at.IsZero() {
		want = at.In(loc).Format("2006-01-02")
	}
	on := 0
	for i := range p.Days {
		if p.Days[i].ID == want {
			on = i
		}
		p.Days[i].URL = link(p.Days[i].ID)
	}
	p.Days[on].On = true
	p.Day = p.Days[on]
	for i := range p.Days {
		p.Days[i].Slots = nil // only the chosen day's cells are shown
	}
	return p, nil
}

// createSlots sets the create form's day links: the grid page at base
// (a query) with the form open on the day, and the fragment ges.js
// fetches instead.
func createSlots(p *slotPicker, service string, base url.Values) {
	for i := range p.Days {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		v.Set("cservice", service)
		v.Set("day", p.Days[i].ID)
		p.Days[i].URL = "/ges/callbacks?" + v.Encode() + "#create-box"
		p.Days[i].Frag = "/ges/callbacks/slots?" + url.Values{"service": {service}, "day": {p.Days[i].ID}}.Encode()
	}
}

// slotsFragment answers the create form's slot grid for another service
// (ges.js swaps it in when the service changes).
func (u *UI) slotsFragment(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	name := r.URL.Query().Get("service")
	svc, ok := u.d.Settings.Service(sess.Tenant, name)
	if !ok || !u.canSee(r.Context(), sess, name) {
		http.Error(w, "No such service.", http.StatusNotFound)
		return
	}
	choice := zoneChoice(w, r)
	p, err := u.picker(r, sess, svc, zoneOf(choice, svc), time.Time{}, func(string) string { return "" })
	if err != nil {
		slog.Warn("UI: slots failed", "err", err)
		http.Error(w, "Slots are unavailable, try again.", http.StatusServiceUnavailable)
		return
	}
	createSlots(p, name, nil)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := u.pages["callbacks"].ExecuteTemplate(w, "slotpicker", map[string]any{"Picker": p, "TZ": newZoneView(choice, svc)}); err != nil {
		slog.Error("UI slots fragment failed", "err", err)
	}
}
