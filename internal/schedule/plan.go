package schedule

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Interval is an opening in absolute time, [Start, End).
type Interval struct{ Start, End time.Time }

// at is the instant of minute m (may pass 1440) of the local date d.
func at(d time.Time, m int, loc *time.Location) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day()+m/1440, (m%1440)/60, m%60, 0, 0, loc)
}

func localDate(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// Open returns the openings that intersect [from, to), merged where they
// touch (so an opening across midnight is one interval).
func (h Hours) Open(loc *time.Location, from, to time.Time) []Interval {
	var ivs []Interval
	for d := localDate(from, loc).AddDate(0, 0, -1); d.Before(to); d = d.AddDate(0, 0, 1) {
		for _, s := range h.spansOn(d) {
			iv := Interval{at(d, s.Start, loc), at(d, s.End, loc)}
			if iv.End.After(from) && iv.Start.Before(to) && iv.End.After(iv.Start) {
				ivs = append(ivs, iv)
			}
		}
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].Start.Before(ivs[j].Start) })
	var out []Interval
	for _, iv := range ivs {
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Override sets the capacity of the slots starting on some weekdays within
// a span of the day.
type Override struct {
	Days     []time.Weekday
	Span     Span
	Capacity int
}

// ParseOverrides reads the Capacity Overrides column:
// "Mon-Fri 09:00-12:00=5; Sat=2".
func ParseOverrides(s string) ([]Override, error) {
	var out []Override
	for _, entry := range splitEntries(s) {
		lhs, rhs, ok := strings.Cut(entry, "=")
		n, err := strconv.Atoi(strings.TrimSpace(rhs))
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("invalid capacity override %q (expected e.g. \"Mon-Fri 09:00-12:00=5\")", entry)
		}
		days, hours, hasHours := cutFirstField(strings.TrimSpace(lhs))
		if !hasHours {
			days, hours = strings.TrimSpace(lhs), "24h"
		}
		ds, err := parseDays(days)
		if err != nil {
			return nil, err
		}
		spans, err := parseSpans(hours)
		if err != nil {
			return nil, err
		}
		for _, sp := range spans {
			out = append(out, Override{Days: ds, Span: sp, Capacity: n})
		}
	}
	return out, nil
}

// Plan is everything slot computation needs about one service.
type Plan struct {
	Hours     Hours
	Loc       *time.Location
	Minutes   int // slot duration
	Capacity  int // default capacity of a slot
	Overrides []Override
}

// Slot is a bookable time slot.
type Slot struct {
	Start, End time.Time
	Total      int // configured capacity
}

func (p Plan) dur() time.Duration { return time.Duration(p.Minutes) * time.Minute }

// total is the configured capacity of the slot starting at s.
func (p Plan) total(s time.Time) int {
	l := s.In(p.Loc)
	m := l.Hour()*60 + l.Minute()
	for _, o := range p.Overrides {
		for _, d := range o.Days {
			if d == l.Weekday() && m >= o.Span.Start && m < o.Span.End {
				return o.Capacity
			}
		}
	}
	return p.Capacity
}

// alignUp moves t to the next slot boundary of the local day's grid.
func (p Plan) alignUp(t time.Time) time.Time {
	if r := t.Sub(t.Truncate(time.Minute)); r > 0 {
		t = t.Truncate(time.Minute).Add(time.Minute)
	}
	l := t.In(p.Loc)
	if mod := (l.Hour()*60 + l.Minute()) % p.Minutes; mod != 0 {
		t = t.Add(time.Duration(p.Minutes-mod) * time.Minute)
	}
	return t
}

// Slots lists the slots lying wholly in an opening that start in
// [from, to), with a configured capacity above zero.
func (p Plan) Slots(from, to time.Time) []Slot {
	var out []Slot
	d := p.dur()
	for _, iv := range p.Hours.Open(p.Loc, from.Add(-d), to) {
		for s := p.alignUp(iv.Start); !s.Add(d).After(iv.End); s = s.Add(d) {
			if s.Before(from) || !s.Before(to) {
				continue
			}
			if n := p.total(s); n > 0 {
				out = append(out, Slot{Start: s, End: s.Add(d), Total: n})
			}
		}
	}
	return out
}

// SlotAt returns the slot containing t.
func (p Plan) SlotAt(t time.Time) (Slot, bool) {
	for _, s := range p.Slots(t.Add(-p.dur()), t.Add(time.Nanosecond)) {
		if !t.Before(s.Start) && t.Before(s.End) {
			return s, true
		}
	}
	return Slot{}, false
}

// OpenFor is how long the service stays open from t (0 when closed),
// looking ahead at most limit.
func (p Plan) OpenFor(t time.Time, limit time.Duration) time.Duration {
	for _, iv := range p.Hours.Open(p.Loc, t, t.Add(limit)) {
		if !t.Before(iv.Start) && t.Before(iv.End) {
			end := iv.End
			if end.After(t.Add(limit)) {
				end = t.Add(limit)
			}
			return end.Sub(t)
		}
	}
	return 0
}

// IsOpen reports whether the service is open at t.
func (p Plan) IsOpen(t time.Time) bool { return p.OpenFor(t, time.Minute) > 0 }
