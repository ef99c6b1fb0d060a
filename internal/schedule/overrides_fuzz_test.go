package schedule

import (
	"testing"
	"time"
)

// FuzzParseOverrides: no Capacity Overrides cell can crash the parser;
// what it accepts has days, a non-negative capacity, and gives every slot
// of a week a capacity that is the plan's or one of the overrides'.
func FuzzParseOverrides(f *testing.F) {
	for _, s := range []string{"Mon-Fri 09:00-12:00=5; Sat=2", "Mon 09:00-10:00=3; Tue=0", "Daily 22:00-02:00=1", "Sun=", "=4", "Mon 25:00-26:00=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		os, err := ParseOverrides(s)
		if err != nil {
			return
		}
		allowed := map[int]bool{7: true}
		for _, o := range os {
			if len(o.Days) == 0 || o.Capacity < 0 {
				t.Fatalf("accepted override without days or with a negative capacity: %+v", o)
			}
			allowed[o.Capacity] = true
		}
		p := Plan{Loc: time.UTC, Minutes: 60, Capacity: 7, Overrides: os} // always open
		from := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
		for _, sl := range p.Slots(from, from.Add(7*24*time.Hour)) {
			if !allowed[sl.Total] {
				t.Fatalf("slot %v has capacity %d, neither the plan's nor an override's", sl.Start, sl.Total)
			}
		}
	})
}
