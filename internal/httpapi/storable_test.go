package httpapi

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// What the Developer tab's error log keeps is text Postgres takes: no
// NUL, only UTF-8, cut on a character.
func TestStorable(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"/engagement/v3/callbacks/open-for/a\x00b", 100, "/engagement/v3/callbacks/open-for/a\uFFFDb"},
		{"/x/\xff\xfe", 100, "/x/\uFFFD"},
		{"ééé", 3, "é…"},
		{"plain", 5, "plain"},
	} {
		got := storable(c.in, c.n)
		if got != c.want || !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 {
			t.Errorf("storable(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
