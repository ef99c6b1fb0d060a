package ui

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzGridFilter: no grid address can crash the filter parser; an accepted
// filter holds only text the stores can take, and its own address reads
// back as the same filter (links, paging and the live refresh keep it).
func FuzzGridFilter(f *testing.F) {
	for _, s := range []string{"service=Callback_Sales&state=scheduled&from=2026-12-03T09:00:00Z&sort=-phone&page=2",
		"cols=id&cols=phone&cols=nope&ud=orderId,%20customerName,,orderId", "phone=%00", "service=%ff", "page=-3&live=1", "to=2026-02-30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		g, err := parseFilter(q)
		if err != nil {
			return
		}
		for _, s := range append([]string{g.Service, g.State, g.From, g.To, g.Phone, g.Sort}, g.UD...) {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("accepted filter with text the stores refuse: %q", s)
			}
		}
		again, err := parseFilter(g.Values(g.Page))
		if err != nil {
			t.Fatalf("the filter's own address is refused: %v (%s)", err, g.URL(g.Page))
		}
		if !reflect.DeepEqual(again, g) {
			t.Fatalf("the filter's address reads back differently:\n%+v\n%+v", g, again)
		}
	})
}
