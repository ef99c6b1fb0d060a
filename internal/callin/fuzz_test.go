package callin

import (
	"strings"
	"testing"
)

// FuzzGroupNumbers: no list of access numbers can crash the check of a
// group; an accepted group holds distinct canonical E.164 numbers, each of
// which E164 gives back unchanged and DialedNumber matches.
func FuzzGroupNumbers(f *testing.F) {
	for _, s := range []string{"+18005550100,+1 (800) 555-0101", "0044 20 7946 0000", "+0123", "+1800555010012345678", "tel:+18005550100", "+１８００"} {
		f.Add("pool", s)
	}
	f.Fuzz(func(t *testing.T, name, numbers string) {
		g := &Group{Name: name, Numbers: strings.Split(numbers, ",")}
		if g.Normalize() != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range g.Numbers {
			c, ok := E164(n)
			if !ok || c != n {
				t.Fatalf("accepted number %q is not canonical (%q, %v)", n, c, ok)
			}
			if DialedNumber(n) != n {
				t.Fatalf("dialled %q does not match itself: %q", n, DialedNumber(n))
			}
			if seen[n] {
				t.Fatalf("duplicate %q accepted", n)
			}
			seen[n] = true
		}
	})
}
