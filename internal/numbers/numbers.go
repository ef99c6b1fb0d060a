// Package numbers holds the Country and Number Validation rules of the
// Callback UI's Tools > Permitted & Blocked Numbers (domain §1.3): a named
// rule lists the countries whose numbers may be called and, optionally,
// patterns of numbers that may not; a rule is assigned to services, a
// service has at most one. Numbers are parsed with libphonenumber
// (nyaruka/phonenumbers), which also tells a number's country, whether it
// is possible and whether it is premium-rate.
package numbers

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Limits of a rule, so that a rule stays cheap to check on every create.
const (
	MaxNameLen   = 64
	MaxCountries = 300
	MaxPatterns  = 100
	MaxPattern   = 200
)

// Pattern is a blocked number pattern: a simple pattern (digits with the
// wildcards * for any digits and ? for one digit, matched against the
// whole number's digits) or a regular expression (Go RE2 syntax, matched
// against the number in E.164, "+<digits>", anchored only as written).
type Pattern struct {
	Value string `json:"pattern"`
	Regex bool   `json:"regex"`
}

// Rule is a named Country and Number Validation rule of a tenant.
type Rule struct {
	Name      string
	Countries []string // ISO 3166 alpha-2, upper case, at least one
	Patterns  []Pattern
	// Services are the services the rule is on; each service has at most
	// one rule, so assigning a service moves it from another rule.
	Services  []string
	UpdatedAt time.Time
	UpdatedBy string

	compiled []*regexp.Regexp
}

// Reason tells why a number is refused.
type Reason string

// Reasons of a refusal.
const (
	Allowed    Reason = ""
	Impossible Reason = "impossible-number"
	Country    Reason = "country-not-permitted"
	Blocked    Reason = "blocked-by-pattern"
	Premium    Reason = "premium-number"
)

// Options are the per-service checks around a rule (the GMS options
// _default_country, _disallow_impossible_phone_numbers and
// _disallow_premium_phone_numbers).
type Options struct {
	DefaultCountry     string // region of numbers written without +; "" = US
	DisallowImpossible bool
	DisallowPremium    bool
}

// Verdict is the outcome of checking a number.
type Verdict struct {
	Number  string `json:"number"`
	E164    string `json:"e164,omitempty"`
	Country string `json:"country,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Allowed bool   `json:"allowed"`
	Reason  Reason `json:"reason,omitempty"`
	// Pattern is the blocked pattern that matched.
	Pattern string `json:"pattern,omitempty"`
	Message string `json:"message"`
}

// Validate checks and normalises a rule (country codes upper case, no
// duplicates, patterns compiled); its error is meant for the caller.
func (r *Rule) Validate() error {
	r.Name = strings.TrimSpace(r.Name)
	switch {
	case r.Name == "":
		return fmt.Errorf("a rule needs a name")
	case len(r.Name) > MaxNameLen:
		return fmt.Errorf("the rule name is longer than %d characters", MaxNameLen)
	case strings.ContainsAny(r.Name, "/\\?#%") || strings.IndexFunc(r.Name, func(c rune) bool { return c < ' ' || c == 0x7f }) >= 0:
		return fmt.Errorf("the rule name may not contain / \\ ? # %% or control characters")
	}
	if len(r.Countries) == 0 {
		return fmt.Errorf("rule %s: at least one permitted country is required", r.Name)
	}
	if len(r.Countries) > MaxCountries {
		return fmt.Errorf("rule %s: at most %d countries", r.Name, MaxCountries)
	}
	supported := phonenumbers.GetSupportedRegions()
	var cs []string
	for _, c := range r.Countries {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		if !supported[c] {
			return fmt.Errorf("rule %s: %q is not an ISO 3166 alpha-2 country code of a numbering plan", r.Name, truncate(c, 8))
		}
		if !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return fmt.Errorf("rule %s: at least one permitted country is required", r.Name)
	}
	slices.Sort(cs)
	r.Countries = cs
	if len(r.Patterns) > MaxPatterns {
		return fmt.Errorf("rule %s: at most %d blocked patterns", r.Name, MaxPatterns)
	}
	var ps []Pattern
	r.compiled = nil
	for _, p := range r.Patterns {
		p.Value = strings.TrimSpace(p.Value)
		if p.Value == "" {
			continue
		}
		if len(p.Value) > MaxPattern {
			return fmt.Errorf("rule %s: a pattern is longer than %d characters", r.Name, MaxPattern)
		}
		re, err := compile(p)
		if err != nil {
			return fmt.Errorf("rule %s: pattern %q: %v", r.Name, truncate(p.Value, 40), err)
		}
		ps = append(ps, p)
		r.compiled = append(r.compiled, re)
	}
	r.Patterns = ps
	var svcs []string
	for _, s := range r.Services {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(svcs, s) {
			svcs = append(svcs, s)
		}
	}
	slices.Sort(svcs)
	r.Services = svcs
	return nil
}

// compile turns a pattern into the expression it stands for: a simple
// pattern keeps its digits and wildcards (spaces, dashes, dots, brackets
// and a leading + are ignored) and must match all the digits.
func compile(p Pattern) (*regexp.Regexp, error) {
	if p.Regex {
		return regexp.Compile(p.Value)
	}
	var b strings.Builder
	b.WriteString(`^`)
	digits := 0
	for _, c := range p.Value {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
			digits++
		case c == '*':
			b.WriteString(`[0-9]*`)
		case c == '?':
			b.WriteString(`[0-9]`)
			digits++
		case strings.ContainsRune(" -.()+", c):
		default:
			return nil, fmt.Errorf("a simple pattern has digits and the wildcards * and ? only (mark it as a regular expression otherwise)")
		}
	}
	if digits == 0 {
		return nil, fmt.Errorf("a simple pattern needs at least one digit or ?")
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}

// allowedChars are what a phone number may be written with; anything else
// makes it impossible (GMS: "unexpected characters").
func allowedChars(s string) bool {
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9', strings.ContainsRune(" -.()/", c):
		case c == '+' && i == 0:
		default:
			return false
		}
	}
	return true
}

// Parsed is a number as libphonenumber reads it.
type Parsed struct {
	E164     string
	Country  string // ISO 3166 alpha-2; "" when unknown
	Possible bool
	Premium  bool
}

// Parse reads number, written internationally (+…) or nationally for
// defaultCountry. ok is false when it cannot be read as a phone number.
func Parse(number, defaultCountry string) (Parsed, bool) {
	number = strings.TrimSpace(number)
	if defaultCountry == "" {
		defaultCountry = "US"
	}
	if number == "" || len(number) > 64 || !allowedChars(number) {
		return Parsed{}, false
	}
	n, err := phonenumbers.Parse(number, strings.ToUpper(defaultCountry))
	if err != nil {
		return Parsed{}, false
	}
	p := Parsed{E164: phonenumbers.Format(n, phonenumbers.E164), Possible: phonenumbers.IsPossibleNumber(n)}
	// The country of a valid number; for a number libphonenumber does not
	// know as valid (a fictitious 555 number), the main country of its
	// calling code.
	p.Country = phonenumbers.GetRegionCodeForNumber(n)
	if p.Country == "" || p.Country == "ZZ" || p.Country == "001" {
		p.Country = phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode()))
	}
	if p.Country == "ZZ" || p.Country == "001" {
		p.Country = ""
	}
	p.Premium = phonenumbers.GetNumberType(n) == phonenumbers.PREMIUM_RATE
	return p, true
}

// Check judges number under rule r and the service's options. The checks
// run in this order: impossible, country, blocked pattern, premium.
func (r *Rule) Check(number string, o Options) Verdict {
	if len(r.compiled) != len(r.Patterns) {
		// Not validated yet (read from the store): validate a copy, as
		// the rule may be shared.
		c := *r
		c.Countries, c.Patterns, c.Services = slices.Clone(r.Countries), slices.Clone(r.Patterns), slices.Clone(r.Services)
		if err := c.Validate(); err != nil {
			return Verdict{Number: number, Rule: r.Name, Reason: Blocked, Message: "rule " + r.Name + " is invalid: " + err.Error()}
		}
		r = &c
	}
	v := Verdict{Number: number, Rule: r.Name}
	p, ok := Parse(number, o.DefaultCountry)
	if !ok {
		// Without a reading of the number its country is unknown: a rule
		// that permits countries cannot permit it.
		return v.refuse(Impossible, "", fmt.Sprintf("the phone number %s cannot be read as a phone number", quote(number)))
	}
	v.E164, v.Country = p.E164, p.Country
	if o.DisallowImpossible && !p.Possible {
		return v.refuse(Impossible, "", fmt.Sprintf("the phone number %s is not possible (wrong length for its country)", quote(number)))
	}
	if !slices.Contains(r.Countries, p.Country) {
		country := p.Country
		if country == "" {
			country = "unknown"
		}
		return v.refuse(Country, "", fmt.Sprintf("the country of the phone number %s (%s) is not permitted by rule %s (permitted: %s)",
			quote(number), country, r.Name, strings.Join(r.Countries, ", ")))
	}
	digits := strings.TrimPrefix(p.E164, "+")
	for i, re := range r.compiled {
		pat := r.Patterns[i]
		subject := digits
		if pat.Regex {
			subject = p.E164
		}
		if re.MatchString(subject) {
			return v.refuse(Blocked, pat.Value, fmt.Sprintf("the phone number %s is blocked by pattern %s of rule %s", quote(number), quote(pat.Value), r.Name))
		}
	}
	if o.DisallowPremium && p.Premium {
		return v.refuse(Premium, "", fmt.Sprintf("the phone number %s is a premium-rate number", quote(number)))
	}
	v.Allowed = true
	v.Message = fmt.Sprintf("the phone number %s (%s, %s) is permitted by rule %s", quote(number), p.E164, p.Country, r.Name)
	return v
}

func (v Verdict) refuse(reason Reason, pattern, msg string) Verdict {
	v.Allowed, v.Reason, v.Pattern, v.Message = false, reason, pattern, msg
	return v
}

func quote(s string) string { return truncate(s, 40) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
