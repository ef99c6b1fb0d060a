package record

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/callback"
)

func sample() *callback.Callback {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	return &callback.Callback{Tenant: "t", ID: "7c1f2b0e-5a2d-4f7e-9a51-0e8f3c2d1a44", Rev: 3, Service: "Callback_Sales",
		Phone: "+15551230001", State: callback.Scheduled, Desired: now.Add(time.Hour), Created: now, Updated: now,
		Props: map[string]string{"_customer_number": "+15551230001", "orderId": "A-1"}, UserData: json.RawMessage(`{"customerName":"Ada"}`)}
}

// FuzzParse: no stored string can crash the codec; whatever it reads is
// written back to a string that reads the same.
func FuzzParse(f *testing.F) {
	f.Add(Value(sample(), 0))
	f.Add(Value(sample(), 4)) // detached user data
	f.Add("3:-1:x")
	f.Add("3:0:")
	f.Add("not a record")
	f.Fuzz(func(t *testing.T, v string) {
		cb, err := Parse("t", "id", v)
		if err != nil {
			return
		}
		again, err := Parse("t", "id", Value(cb, 0))
		if err != nil {
			t.Fatalf("a record read from %q does not read back: %v", v, err)
		}
		if Value(again, 0) != Value(cb, 0) {
			t.Fatalf("round trip changed the record:\n%q\n%q", Value(cb, 0), Value(again, 0))
		}
	})
}
