package ui

import (
	"testing"
	"time"
)

func TestFormTimeIn(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in  string
		loc *time.Location
	}{
		{"2026-12-04T09:00", ny}, {"2026-12-04 09:00", ny}, {"2026-12-04T09:00:00", ny},
		{"2026-12-04T14:00", nil}, {"2026-12-04T14:00:00Z", ny}, {"2026-12-04T09:00:00-05:00", time.UTC},
	} {
		got, ok := formTimeIn(c.in, c.loc)
		if !ok || !got.Equal(want) {
			t.Errorf("formTimeIn(%q, %v) = %v %v, want %v", c.in, c.loc, got, ok, want)
		}
	}
	if _, ok := formTimeIn("04/12/2026 09:00", ny); ok {
		t.Error("an ambiguous date was read")
	}
}

func TestFillAndZones(t *testing.T) {
	for _, c := range []struct{ free, total, want int }{{100, 100, 0}, {99, 100, 1}, {50, 100, 2}, {1, 100, 3}, {0, 100, 4}, {1, 1, 0}, {0, 0, 4}} {
		if got := fill(c.free, c.total); got != c.want {
			t.Errorf("fill(%d, %d) = %d, want %d", c.free, c.total, got, c.want)
		}
	}
	for in, ok := range map[string]bool{"service": true, "UTC": true, "Asia/Tokyo": true, "Local": false, "../etc/passwd": false, "Nowhere/City": false} {
		if _, got := validZone(in); got != ok {
			t.Errorf("validZone(%q) = %v", in, got)
		}
	}
}
