package schedule

import (
	"strings"
	"testing"
	"time"
)

func plan(t *testing.T, tz, business, special string, minutes int) Plan {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHours(business, special)
	if err != nil {
		t.Fatal(err)
	}
	return Plan{Hours: h, Loc: loc, Minutes: minutes, Capacity: 10}
}

func day(p Plan, y int, m time.Month, d int) (time.Time, time.Time) {
	s := time.Date(y, m, d, 0, 0, 0, 0, p.Loc)
	return s, time.Date(y, m, d+1, 0, 0, 0, 0, p.Loc)
}

func TestDSTDaysHaveTheirRealLength(t *testing.T) {
	for _, c := range []struct {
		tz    string
		y     int
		m     time.Month
		d     int
		slots int
	}{
		{"America/New_York", 2027, time.March, 14, 23},
		{"America/New_York", 2027, time.November, 7, 25},
		{"Europe/London", 2027, time.March, 28, 23},
		{"Europe/London", 2027, time.October, 31, 25},
		{"Europe/London", 2027, time.October, 30, 24},
	} {
		p := plan(t, c.tz, "Daily 24h", "", 60)
		from, to := day(p, c.y, c.m, c.d)
		ss := p.Slots(from, to)
		if len(ss) != c.slots {
			t.Errorf("%s %d-%d-%d: %d slots, want %d", c.tz, c.y, c.m, c.d, len(ss), c.slots)
		}
		for i := 1; i < len(ss); i++ {
			if ss[i].Start.Sub(ss[i-1].Start) != time.Hour {
				t.Errorf("%s: slots %s and %s are not an hour apart", c.tz, ss[i-1].Start, ss[i].Start)
			}
		}
	}
}

func TestBusinessHoursAcrossSpringForward(t *testing.T) {
	// 09:00-17:00 local stays 09:00-17:00 local on both sides of the change.
	p := plan(t, "America/New_York", "Mon-Sun 09:00-17:00", "", 30)
	for _, d := range []int{13, 14, 15} {
		from, to := day(p, 2027, time.March, d)
		ss := p.Slots(from, to)
		if len(ss) != 16 {
			t.Fatalf("March %d: %d slots", d, len(ss))
		}
		if l := ss[0].Start.In(p.Loc); l.Hour() != 9 || l.Minute() != 0 {
			t.Fatalf("March %d: first slot %s", d, l)
		}
	}
	if off := time.Date(2027, 3, 15, 9, 0, 0, 0, p.Loc).Format("-07:00"); off != "-04:00" {
		t.Fatalf("offset %s", off)
	}
}

func TestHoursCrossingMidnightAndSpecialDays(t *testing.T) {
	p := plan(t, "UTC", "Fri 22:00-02:00; Mon-Thu 09:00-17:00", "2027-12-24 10:00-12:00; 12-25 closed; 2027-12-31 closed", 60)
	from := time.Date(2027, 12, 3, 0, 0, 0, 0, time.UTC) // a Friday
	ss := p.Slots(from, from.Add(48*time.Hour))
	var got []string
	for _, s := range ss {
		got = append(got, s.Start.Format("Mon 15:04"))
	}
	if strings.Join(got, ",") != "Fri 22:00,Fri 23:00,Sat 00:00,Sat 01:00" {
		t.Fatalf("crossing midnight: %v", got)
	}
	if d := p.OpenFor(time.Date(2027, 12, 3, 23, 30, 0, 0, time.UTC), 7*24*time.Hour); d != 150*time.Minute {
		t.Fatalf("open-for across midnight: %s", d)
	}
	eve := time.Date(2027, 12, 24, 0, 0, 0, 0, time.UTC) // a Friday with its own hours
	if ss := p.Slots(eve, eve.Add(24*time.Hour)); len(ss) != 2 || ss[0].Start.Hour() != 10 {
		t.Fatalf("special day with hours: %v", ss)
	}
	xmas := time.Date(2028, 12, 25, 0, 0, 0, 0, time.UTC) // every year, a Monday
	if ss := p.Slots(xmas, xmas.Add(24*time.Hour)); len(ss) != 0 {
		t.Fatalf("closed special day: %v", ss)
	}
	if p.IsOpen(time.Date(2028, 12, 25, 10, 0, 0, 0, time.UTC)) || !p.IsOpen(time.Date(2028, 12, 26, 10, 0, 0, 0, time.UTC)) {
		t.Fatal("IsOpen around the closed day")
	}
}

func TestSlotAtAndOverrides(t *testing.T) {
	p := plan(t, "Europe/London", "Mon-Fri 09:00-17:00", "", 15)
	var err error
	if p.Overrides, err = ParseOverrides("Mon 09:00-10:00=3; Tue=0"); err != nil {
		t.Fatal(err)
	}
	mon := time.Date(2027, 6, 7, 9, 20, 0, 0, p.Loc)
	s, ok := p.SlotAt(mon)
	if !ok || !s.Start.Equal(time.Date(2027, 6, 7, 9, 15, 0, 0, p.Loc)) || s.Total != 3 {
		t.Fatalf("slot at 09:20: %+v %v", s, ok)
	}
	if s, _ := p.SlotAt(mon.Add(time.Hour)); s.Total != 10 {
		t.Fatalf("default capacity: %+v", s)
	}
	if _, ok := p.SlotAt(mon.Add(24 * time.Hour)); ok {
		t.Fatal("a slot of capacity 0 is offered")
	}
	if _, ok := p.SlotAt(time.Date(2027, 6, 7, 17, 0, 0, 0, p.Loc)); ok {
		t.Fatal("slot at closing time")
	}
}

func TestParseRefusesBadHours(t *testing.T) {
	for _, c := range []struct{ business, special, want string }{
		{"Mon-Fri 09:00-12:00; Mon 11:00-14:00", "", "overlapping"},
		{"Fri 22:00-04:00; Sat 02:00-05:00", "", "overlapping"},
		{"Sat 23:00-02:00; Sun 01:00-03:00", "", "overlapping"},
		{"Funday 09:00-17:00", "", "unknown day"},
		{"Mon 25:00-26:00", "", "invalid time"},
		{"Mon", "", "invalid entry"},
		{"", "2027-13-01 closed", "invalid date"},
		{"", "2027-12-24 09:00-12:00, 11:00-13:00", "overlapping"},
	} {
		if _, err := ParseHours(c.business, c.special); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q / %q: %v", c.business, c.special, err)
		}
	}
	if _, err := ParseHours("Sat-Mon 10:00-; Tue-Fri 09:00-17:00", ""); err != nil {
		t.Errorf("wrapping days and no end: %v", err)
	}
}

// FuzzParseHours: no published cell can crash the parser, and whatever it
// accepts yields slots that lie inside openings and never overlap.
func FuzzParseHours(f *testing.F) {
	for _, s := range []string{"Mon-Fri 09:00-17:00", "Fri 22:00-02:00; Sat 24h", "Sat-Mon 10:00-", "Daily closed", "Mon 09:00-10:00,11:00-12:00"} {
		f.Add(s, "2027-12-24 09:00-12:00; 12-25 closed")
	}
	f.Fuzz(func(t *testing.T, business, special string) {
		h, err := ParseHours(business, special)
		if err != nil {
			return
		}
		_, _ = ParseOverrides(business + "=3")
		p := Plan{Hours: h, Loc: time.UTC, Minutes: 30, Capacity: 1}
		from := time.Date(2027, 12, 20, 0, 0, 0, 0, time.UTC)
		ss := p.Slots(from, from.Add(10*24*time.Hour))
		for i, s := range ss {
			if !p.IsOpen(s.Start) || !s.End.After(s.Start) {
				t.Fatalf("slot %v not in an opening", s)
			}
			if i > 0 && s.Start.Before(ss[i-1].End) {
				t.Fatalf("slots overlap: %v %v", ss[i-1], s)
			}
		}
	})
}
