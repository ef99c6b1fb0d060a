package callback

import (
	"context"
	"strings"
)

// sameDigits tells whether two forms of a phone number have the same
// digits (a report that repeats the number in another form changes
// nothing the number rules judge).
func sameDigits(a, b string) bool {
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	return digits(a) == digits(b)
}

// checkNewNumber applies the number rules to a callback whose number a
// report changed, as a create would: a refused number refuses the report.
func (s *Service) checkNewNumber(ctx context.Context, tenant string, cb *Callback) error {
	if s.Numbers == nil {
		return nil
	}
	svc, ok := s.Settings.Service(tenant, cb.Service)
	if !ok {
		return nil
	}
	phone, err := s.Numbers.CheckNumber(ctx, tenant, svc, cb.Phone)
	if err != nil {
		return err
	}
	cb.Phone = phone
	return nil
}
