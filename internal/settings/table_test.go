package settings

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDefaultsAndColumns(t *testing.T) {
	tb, err := Parse(TableName, 3, []Row{{Key: "VQ", Columns: map[string]any{
		"time_zone": "America/New_York", "Slot Duration (min)": "30", "capacity": 5.0,
		"Offer Immediate Callback": false, "Max Callbacks Per Phone Number": "1", "Route Point": "8999", "Custom": "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := tb.Service("VQ")
	if !ok {
		t.Fatal("no service")
	}
	if s.TimeZone != "America/New_York" || s.SlotMinutes != 30 || s.Capacity != 5 || s.OfferImmediate || !s.OfferScheduled ||
		s.MaxPerNumber != 1 || s.RoutePoint != "8999" || s.Columns["Custom"] != "x" || s.TTL != 24*time.Hour || tb.Version != 3 {
		t.Fatalf("%+v", s)
	}
}

func TestParseRefusesBadRows(t *testing.T) {
	for _, c := range []struct {
		row  Row
		want string
	}{
		{Row{Key: "A", Columns: map[string]any{"Time Zone": "Nowhere/Land"}}, "unknown time zone"},
		{Row{Key: "A", Columns: map[string]any{"Slot Duration (min)": "7"}}, "divisor of 60"},
		{Row{Key: "A", Columns: map[string]any{"Capacity": "-1"}}, "at least 0"},
		{Row{Key: "A", Columns: map[string]any{"Offer Scheduled Callback": "maybe"}}, "true or false"},
		{Row{Key: "", Columns: nil}, "key"},
		{Row{Key: "A", Columns: map[string]any{"Route Point": []any{1}}}, "text, number or boolean"},
	} {
		_, err := Parse(TableName, 1, []Row{{Key: "OK"}, c.row})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Row != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.row, err)
		}
	}
	if _, err := Parse(TableName, 1, []Row{{Key: "A"}, {Key: "A"}}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := Parse("OTHER", 1, nil); err == nil {
		t.Error("unknown table accepted")
	}
}

func TestRegistryKeepsNewest(t *testing.T) {
	r := NewRegistry()
	a, _ := Parse(TableName, 2, []Row{{Key: "A"}})
	b, _ := Parse(TableName, 1, []Row{{Key: "B"}})
	r.Put("t", a)
	r.Put("t", b)
	if _, ok := r.Service("t", "A"); !ok || r.Version("t") != 2 {
		t.Fatal("an older table replaced a newer one")
	}
}
