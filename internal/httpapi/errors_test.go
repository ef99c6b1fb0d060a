package httpapi

import (
	"testing"

	"github.com/gesgo/ges/internal/fault"
)

// Every kind of domain error has an answer in each API family's table,
// and every limit an alert counter: a kind added to the domain without
// one would be answered 503 and logged as a failure.
func TestEveryKindHasAnAnswer(t *testing.T) {
	for k := fault.Invalid; k <= fault.Unavailable; k++ {
		if _, ok := gmsStatus[k]; !ok {
			t.Errorf("kind %d has no GMS answer", k)
		}
		if _, ok := externalStatus[k]; !ok {
			t.Errorf("kind %d has no external answer", k)
		}
	}
	for l := fault.PerNumber; l <= fault.Daily; l++ {
		if limitAlert[l] == "" {
			t.Errorf("limit %d has no alert counter", l)
		}
	}
}
