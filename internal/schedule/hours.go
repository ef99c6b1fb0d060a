// Package schedule computes when a callback service is open and which
// time slots it offers: business hours per weekday (open all day, no end,
// hours crossing midnight), special days that close a date or replace its
// hours, slot boundaries and their capacity, all in the service's IANA
// time zone, across daylight-saving changes.
package schedule

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Span is an opening on a day, in minutes from local midnight. End may
// pass 1440: the opening then runs into the next day.
type Span struct{ Start, End int }

func (s Span) String() string { return clock(s.Start) + "-" + clock(s.End) }

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Hours is a weekly calendar with special days.
type Hours struct {
	// Weekly holds the spans of each weekday (time.Sunday = 0). nil Weekly
	// (no business hours configured) means always open.
	Weekly *[7][]Span
	// Special replaces a date's spans: key "2006-01-02", or "01-02" for
	// every year. An empty list closes the date.
	Special map[string][]Span
}

// AlwaysOpen reports whether no business hours were configured.
func (h Hours) AlwaysOpen() bool { return h.Weekly == nil && len(h.Special) == 0 }

// spansOn returns the spans starting on the local date d.
func (h Hours) spansOn(d time.Time) []Span {
	if s, ok := h.Special[d.Format("2006-01-02")]; ok {
		return s
	}
	if s, ok := h.Special[d.Format("01-02")]; ok {
		return s
	}
	if h.Weekly == nil {
		return []Span{{0, 1440}}
	}
	return h.Weekly[d.Weekday()]
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < 3 {
		return 0, false
	}
	d, ok := dayNames[s[:3]]
	return d, ok
}

// parseDays reads "Mon", "Mon-Fri" (may wrap: "Sat-Mon"), "Mon,Wed",
// "Daily".
func parseDays(s string) ([]time.Weekday, error) {
	s = strings.TrimSpace(s)
	if l := strings.ToLower(s); l == "daily" || l == "everyday" || l == "all" {
		return []time.Weekday{0, 1, 2, 3, 4, 5, 6}, nil
	}
	var out []time.Weekday
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok := parseDay(a)
		if !ok {
			return nil, fmt.Errorf("unknown day %q", strings.TrimSpace(a))
		}
		if !isRange {
			out = append(out, from)
			continue
		}
		to, ok := parseDay(b)
		if !ok {
			return nil, fmt.Errorf("unknown day %q", strings.TrimSpace(b))
		}
		for d := from; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == to {
				break
			}
		}
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("invalid time %q (expected HH:MM)", strings.TrimSpace(s))
	}
	return hh*60 + mm, nil
}

// parseSpans reads "09:00-17:00, 18:00-20:00", "closed", "24h"/"open",
// "18:00-" (no end: open until midnight) and "22:00-02:00" (crosses
// midnight).
func parseSpans(s string) ([]Span, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "closed", "close", "off":
		return []Span{}, nil
	case "24h", "open", "all day", "open all day", "00:00-24:00":
		return []Span{{0, 1440}}, nil
	}
	var out []Span
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(part, "-")
		if !ok {
			return nil, fmt.Errorf("invalid hours %q (expected HH:MM-HH:MM)", strings.TrimSpace(part))
		}
		start, err := parseClock(a)
		if err != nil {
			return nil, err
		}
		end := 1440
		if strings.TrimSpace(b) != "" {
			if end, err = parseClock(b); err != nil {
				return nil, err
			}
		}
		if start >= 1440 {
			return nil, fmt.Errorf("invalid hours %q: a day starts before 24:00", strings.TrimSpace(part))
		}
		if end <= start {
			end += 1440 // crosses midnight
		}
		if end == start {
			return nil, fmt.Errorf("invalid hours %q: empty", strings.TrimSpace(part))
		}
		out = append(out, Span{start, end})
	}
	return out, nil
}

// ParseHours reads the Business Hours and Special Days columns:
//
//	Business Hours: "Mon-Fri 09:00-17:00; Sat 10:00-14:00; Fri 22:00-02:00; Sun 24h"
//	Special Days:   "2030-12-25 closed; 2030-12-24 09:00-12:00; 12-31 09:00-13:00"
//
// Days not named in Business Hours are closed. An empty Business Hours is
// always open (special days still apply). Overlapping openings are refused.
func ParseHours(business, special string) (Hours, error) {
	var h Hours
	if strings.TrimSpace(business) != "" {
		var week [7][]Span
		for _, entry := range splitEntries(business) {
			days, hours, ok := cutFirstField(entry)
			if !ok {
				return h, fmt.Errorf("invalid entry %q (expected days and hours, e.g. \"Mon-Fri 09:00-17:00\")", entry)
			}
			ds, err := parseDays(days)
			if err != nil {
				return h, err
			}
			spans, err := parseSpans(hours)
			if err != nil {
				return h, err
			}
			for _, d := range ds {
				week[d] = append(week[d], spans...)
			}
		}
		if err := checkWeek(week); err != nil {
			return h, err
		}
		h.Weekly = &week
	}
	if strings.TrimSpace(special) != "" {
		h.Special = map[string][]Span{}
		for _, entry := range splitEntries(special) {
			date, hours, ok := cutFirstField(entry)
			if !ok {
				return h, fmt.Errorf("invalid special day %q (expected a date and hours, e.g. \"2030-12-25 closed\")", entry)
			}
			if _, err := time.Parse("2006-01-02", date); err != nil {
				if _, err := time.Parse("01-02", date); err != nil {
					return h, fmt.Errorf("invalid date %q (expected YYYY-MM-DD or MM-DD)", date)
				}
			}
			spans, err := parseSpans(hours)
			if err != nil {
				return h, err
			}
			h.Special[date] = append(h.Special[date], spans...)
			if err := checkDay(date, h.Special[date]); err != nil {
				return h, err
			}
		}
	}
	return h, nil
}

func splitEntries(s string) []string {
	var out []string
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// cutFirstField splits "Mon-Fri 09:00-17:00" into "Mon-Fri" and the rest.
func cutFirstField(e string) (string, string, bool) {
	i := strings.IndexAny(e, " \t")
	if i < 0 {
		return "", "", false
	}
	return e[:i], strings.TrimSpace(e[i:]), true
}

func checkDay(name string, spans []Span) error {
	s := append([]Span(nil), spans...)
	sort.Slice(s, func(i, j int) bool { return s[i].Start < s[j].Start })
	for i := 1; i < len(s); i++ {
		if s[i].Start < s[i-1].End {
			return fmt.Errorf("overlapping hours on %s: %s and %s", name, s[i-1], s[i])
		}
	}
	return nil
}

// checkWeek refuses openings that overlap, including one that crosses
// midnight into the next day's hours (and Saturday night into Sunday).
func checkWeek(week [7][]Span) error {
	type abs struct {
		start, end int
		label      string
	}
	var all []abs
	for d, spans := range week {
		for _, s := range spans {
			all = append(all, abs{d*1440 + s.Start, d*1440 + s.End, time.Weekday(d).String()[:3] + " " + s.String()})
		}
	}
	const week7 = 7 * 1440
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			a, b := all[i], all[j]
			for _, shift := range []int{-week7, 0, week7} {
				if a.start < b.end+shift && b.start+shift < a.end {
					return fmt.Errorf("overlapping hours: %s and %s", a.label, b.label)
				}
			}
		}
	}
	return nil
}
