package settings

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzParseTable: no published table can crash the parser; a refusal is a
// ValidationError (a 400 naming the row), and every row of an accepted
// table is a service with a usable plan.
func FuzzParseTable(f *testing.F) {
	for _, s := range []string{
		`[{"key":"VQ","columns":{"time_zone":"America/New_York","Slot Duration (min)":"30","capacity":5}}]`,
		`[{"key":"A","columns":{"Business Hours":"Mon-Fri 09:00-17:00","Capacity Overrides":"Mon 09:00-10:00=3; Tue=0"}}]`,
		`[{"key":"A","columns":{"Max Callbacks Per Phone Number":"x"}},{"key":"A","columns":{}}]`,
		`[{"key":"B","columns":{"Queue Ahead By EWT":true,"Max Queue Ahead (seconds)":-1,"Offer Immediate Callback":"maybe"}}]`,
		`[{"key":"","columns":null}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rows []Row
		if json.Unmarshal(data, &rows) != nil {
			return
		}
		tb, err := Parse(TableName, 1, rows)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("refusal is not a ValidationError: %v", err)
			}
			return
		}
		for _, r := range rows {
			s, ok := tb.Service(strings.TrimSpace(r.Key)) // names are trimmed
			if !ok {
				t.Fatalf("accepted row %q has no service", r.Key)
			}
			if s.Location == nil || s.SlotMinutes <= 0 || 60%s.SlotMinutes != 0 && s.SlotMinutes%60 != 0 {
				t.Fatalf("accepted row %q has an unusable plan: %+v", r.Key, s)
			}
		}
	})
}
