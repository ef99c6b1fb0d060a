package callback

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzQueryFilters: GMS filter keys as a client sends them (a query
// string) never crash the parser, the check or the matching; an accepted
// filter holds only valid text, and a negated filter matches exactly the
// callbacks the plain one does not.
func FuzzQueryFilters(f *testing.F) {
	for _, s := range []string{"_customer_number=%2B15550300&_callback_state=!COMPLETED", "_service_type=sales", "a=!", "=x", "k=%00", "k=%ff%fe", "_=1&x=!!y"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	cb := &Callback{Tenant: "t", ID: "7c1f2b0e-5a2d-4f7e-9a51-0e8f3c2d1a44", Service: "Callback_Sales", Phone: "+15550300",
		State: Scheduled, Desired: now, Created: now, Updated: now, Props: map[string]string{"_service_type": "sales", "x": "!y"}}
	f.Fuzz(func(t *testing.T, raw string) {
		vs, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		var q Query
		for k, list := range vs {
			for _, v := range list {
				q.Filters = append(q.Filters, ParseFilter(k, v))
			}
		}
		if ValidateQuery(q) != nil {
			return
		}
		for _, fl := range q.Filters {
			if !utf8.ValidString(fl.Key) || !utf8.ValidString(fl.Value) || strings.ContainsRune(fl.Key+fl.Value, 0) {
				t.Fatalf("accepted filter with invalid text: %+v", fl)
			}
			plain, neg := Query{Filters: []Filter{{Key: fl.Key, Value: fl.Value}}}, Query{Filters: []Filter{{Key: fl.Key, Value: fl.Value, Not: true}}}
			if plain.Match(cb) == neg.Match(cb) {
				t.Fatalf("filter %+v and its negation agree", fl)
			}
		}
		_ = q.Match(cb)
	})
}
