package numbers

import "testing"

func TestRuleCheck(t *testing.T) {
	r := &Rule{Name: "NA", Countries: []string{"us", " ca", "US"}, Patterns: []Pattern{
		{Value: "1-212-555-*"}, {Value: `^\+1201555012[0-9]$`, Regex: true}}}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(r.Countries) != 2 || r.Countries[0] != "CA" || r.Countries[1] != "US" {
		t.Fatalf("countries not normalised: %v", r.Countries)
	}
	strict := Options{DefaultCountry: "US", DisallowImpossible: true, DisallowPremium: true}
	for _, c := range []struct {
		number string
		o      Options
		want   Reason
	}{
		{"+15550000010", strict, Allowed},
		{"(415) 555-2671", strict, Allowed}, // national, for the default country
		{"+442079460000", strict, Country},
		{"+33142685300", strict, Country},
		{"+12125551234", strict, Blocked},
		{"+1 212 555 0000", strict, Blocked},
		{"+12015550123", strict, Blocked},
		{"+12015550133", strict, Allowed},
		{"+19002345678", strict, Premium},
		{"+19002345678", Options{}, Allowed},
		{"+1555", strict, Impossible},
		{"+1555", Options{}, Allowed},
		{"call me", strict, Impossible},
		{"+1 212 555 1234 ext", strict, Impossible},
	} {
		v := r.Check(c.number, c.o)
		if v.Reason != c.want || v.Allowed != (c.want == Allowed) || v.Message == "" {
			t.Errorf("%q: got %+v, want %q", c.number, v, c.want)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	for _, r := range []Rule{
		{Name: "", Countries: []string{"US"}},
		{Name: "x", Countries: nil},
		{Name: "x", Countries: []string{" "}},
		{Name: "x", Countries: []string{"XX"}},
		{Name: "a/b", Countries: []string{"US"}},
		{Name: "x", Countries: []string{"US"}, Patterns: []Pattern{{Value: "1900[", Regex: true}}},
		{Name: "x", Countries: []string{"US"}, Patterns: []Pattern{{Value: "1900abc"}}},
		{Name: "x", Countries: []string{"US"}, Patterns: []Pattern{{Value: "**"}}},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v: accepted", r)
		}
	}
}
