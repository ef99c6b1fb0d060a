// Package callin is Click-To-Call-In: a customer asks for a number to
// dial, GES lends one access number of a group's pool (with an access code
// when the group uses them) for a while, and when the call arrives the
// routing application matches it back to the request and its user data.
//
// This file holds the rules: what a valid group is, which number and code
// a request gets, and which reservation a call matches. The use cases are
// in service.go; the locking that makes allocation safe across GES nodes
// belongs to the store.
package callin

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gesgo/ges/internal/fault"
)

// Allocation modes of a group's pool.
const (
	Random     = "random"
	RoundRobin = "round-robin"
)

// Limits and defaults of a group.
const (
	DefaultExpiry     = 300 * time.Second
	MaxExpiry         = 24 * time.Hour
	DefaultCodeLength = 6
	MinCodeLength     = 1
	// MaxCodeLength keeps every code an exact JSON number for the
	// generated clients (accessCode is a number on the wire).
	MaxCodeLength  = 9
	MaxNumbers     = 10000
	MaxNameLength  = 255
	DefaultAlloc   = RoundRobin
	minPhoneDigits = 7
)

// Group is a tenant's pool of access numbers and how they are lent.
type Group struct {
	Name        string
	Numbers     []string // E.164, in pool order
	Expiry      time.Duration
	AccessCodes bool
	CodeLength  int
	Allocation  string
	// Cursor is where the next round-robin search starts (an index into
	// Numbers, taken modulo its length).
	Cursor    int
	UpdatedAt time.Time
}

// Reservation is a number (and code) promised to one request until it is
// matched or expires.
type Reservation struct {
	ID                string
	Group             string
	Number            string
	Code              string // empty when the group used no codes
	FromPhone         string
	UserData          []byte // a JSON object, or nil
	CallbackServiceID string
	Created           time.Time
	Expires           time.Time
}

// Live reports whether the reservation still holds its number at now.
func (r *Reservation) Live(now time.Time) bool { return now.Before(r.Expires) }

// Normalize checks g, fills the defaults and rewrites the numbers in their
// canonical E.164 form. The error message names the offending field.
func (g *Group) Normalize() error {
	g.Name = strings.TrimSpace(g.Name)
	if err := checkName(g.Name); err != nil {
		return err
	}
	if len(g.Numbers) == 0 {
		return Errorf(KindInvalid, "numbers is required: at least one access number (E.164, such as +18005550100)")
	}
	if len(g.Numbers) > MaxNumbers {
		return Errorf(KindInvalid, "numbers: at most %d access numbers per group", MaxNumbers)
	}
	seen := make(map[string]bool, len(g.Numbers))
	for i, n := range g.Numbers {
		c, ok := E164(n)
		if !ok {
			return Errorf(KindInvalid, "Invalid numbers[%d]: %q (expected an E.164 number such as +18005550100)", i, n)
		}
		if seen[c] {
			return Errorf(KindInvalid, "Duplicate number in numbers: %s", c)
		}
		seen[c] = true
		g.Numbers[i] = c
	}
	if g.Expiry == 0 {
		g.Expiry = DefaultExpiry
	}
	if g.Expiry < time.Second || g.Expiry > MaxExpiry || g.Expiry%time.Second != 0 {
		return Errorf(KindInvalid, "Invalid expirySeconds: %v (expected whole seconds from 1 to %d)", g.Expiry.Seconds(), int(MaxExpiry.Seconds()))
	}
	if g.CodeLength == 0 {
		g.CodeLength = DefaultCodeLength
	}
	if g.CodeLength < MinCodeLength || g.CodeLength > MaxCodeLength {
		return Errorf(KindInvalid, "Invalid codeLength: %d (expected %d to %d digits)", g.CodeLength, MinCodeLength, MaxCodeLength)
	}
	switch strings.ToLower(strings.TrimSpace(g.Allocation)) {
	case "":
		g.Allocation = DefaultAlloc
	case Random:
		g.Allocation = Random
	case RoundRobin, "roundrobin", "round_robin":
		g.Allocation = RoundRobin
	default:
		return Errorf(KindInvalid, "Invalid allocation: %q (expected random or round-robin)", g.Allocation)
	}
	return nil
}

func checkName(name string) error {
	if name == "" {
		return Errorf(KindInvalid, "The group name is required")
	}
	if len(name) > MaxNameLength {
		return Errorf(KindInvalid, "The group name is longer than %d bytes", MaxNameLength)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return Errorf(KindInvalid, "The group name contains a control character")
		}
	}
	return nil
}

// E164 returns the canonical form (+ and digits) of a configured access
// number. Spaces, dashes, dots and parentheses are formatting; a leading
// 00 is the international prefix.
func E164(s string) (string, bool) {
	d := stripFormatting(s)
	if strings.HasPrefix(d, "00") {
		d = "+" + d[2:]
	}
	if len(d) < 3 || len(d) > 16 || d[0] != '+' || d[1] == '0' || !allDigits(d[1:]) {
		return "", false
	}
	return d, true
}

// DialedNumber is the canonical form of the number a caller dialled, as
// the routing application reports it: E.164 without the + is accepted,
// since DNIS often arrives that way.
func DialedNumber(s string) string {
	d := stripFormatting(s)
	d = strings.TrimPrefix(d, "tel:")
	if strings.HasPrefix(d, "00") {
		d = "+" + d[2:]
	}
	if d != "" && d[0] != '+' {
		d = "+" + d
	}
	return d
}

func stripFormatting(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch r {
		case ' ', '-', '.', '(', ')', '\t':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// CodeSpace is how many access codes of that length exist: the first digit
// is never 0, so a code read back as a number keeps its length.
func CodeSpace(length int) int {
	n := 9
	for range length - 1 {
		n *= 10
	}
	return n
}

// Pick chooses the number (and code) for a new request, given every live
// reservation that holds one of the group's numbers. Without access codes a
// number serves one live request at a time; with codes it serves several,
// each with its own code. A reservation without a code (made while the
// group used none) holds its number alone. intn returns a random integer
// in [0, n). The second result is the group's next cursor.
func Pick(g *Group, live []Reservation, intn func(n int) int) (number, code string, cursor int, err error) {
	n := len(g.Numbers)
	if n == 0 {
		return "", "", g.Cursor, Errorf(KindExhausted, "Group %s has no access numbers", g.Name)
	}
	held := make(map[string]map[string]bool, len(live))
	for _, r := range live {
		if held[r.Number] == nil {
			held[r.Number] = map[string]bool{}
		}
		held[r.Number][r.Code] = true
	}
	space := CodeSpace(g.CodeLength)
	free := func(num string) bool {
		codes := held[num]
		if len(codes) == 0 {
			return true
		}
		return g.AccessCodes && !codes[""] && len(codes) < space
	}
	idx := -1
	switch g.Allocation {
	case Random:
		var cands []int
		for i, num := range g.Numbers {
			if free(num) {
				cands = append(cands, i)
			}
		}
		if len(cands) > 0 {
			idx = cands[intn(len(cands))]
		}
	default:
		start := ((g.Cursor % n) + n) % n
		for k := range n {
			if i := (start + k) % n; free(g.Numbers[i]) {
				idx = i
				break
			}
		}
	}
	if idx < 0 {
		return "", "", g.Cursor, Errorf(KindExhausted, "No access number is available in group %s: all %d are reserved, try again later", g.Name, n)
	}
	number = g.Numbers[idx]
	cursor = g.Cursor
	if g.Allocation != Random {
		cursor = (idx + 1) % n
	}
	if g.AccessCodes {
		code = newCode(g.CodeLength, held[number], intn)
	}
	return number, code, cursor, nil
}

// newCode draws a code not in taken. Random draws find one quickly while
// the code space is mostly free; a scan from a random point settles the
// crowded case.
func newCode(length int, taken map[string]bool, intn func(n int) int) string {
	space := CodeSpace(length)
	low := space / 9 // 10^(length-1)
	for range 32 {
		c := strconv.Itoa(low + intn(space))
		if !taken[c] {
			return c
		}
	}
	start := intn(space)
	for k := range space {
		c := strconv.Itoa(low + (start+k)%space)
		if !taken[c] {
			return c
		}
	}
	return "" // unreachable: Pick only calls with a free place
}

// Criteria are what the routing application knows about an incoming call:
// the dialled access number (required), and optionally the code the caller
// keyed and the caller's number. A reservation matches when it agrees with
// every criterion given.
type Criteria struct {
	Number string
	Code   string
	Phone  string
}

// Normalize checks the criteria and puts them in canonical form.
func (c *Criteria) Normalize() error {
	if strings.TrimSpace(c.Number) == "" {
		return Errorf(KindInvalid, "_access_number is required")
	}
	c.Number = DialedNumber(c.Number)
	c.Code = strings.TrimSpace(c.Code)
	if c.Code != "" {
		v, err := strconv.ParseUint(c.Code, 10, 64)
		if err != nil {
			return Errorf(KindInvalid, "Invalid _access_code: %q (expected digits)", c.Code)
		}
		c.Code = strconv.FormatUint(v, 10)
	}
	c.Phone = strings.TrimSpace(c.Phone)
	return nil
}

// Accepts reports whether r agrees with every criterion given (the number
// is compared by the store, which looks reservations up by it).
func (c *Criteria) Accepts(r *Reservation) bool {
	if c.Code != "" && r.Code != c.Code {
		return false
	}
	if c.Phone != "" && !SamePhone(r.FromPhone, c.Phone) {
		return false
	}
	return true
}

// SamePhone compares two customer numbers by their digits. The number a
// customer typed on a web page and the caller id of the call often differ
// in format and in the country prefix (4155550188 and +1 415 555 0188), so
// one may end with the other when the shorter still has 7 digits.
func SamePhone(a, b string) bool {
	da, db := digits(a), digits(b)
	if da == "" || db == "" {
		return false
	}
	if len(da) > len(db) {
		da, db = db, da
	}
	if da == db {
		return true
	}
	return len(da) >= minPhoneDigits && strings.HasSuffix(db, da)
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// The domain's error type and kinds (package fault), under the names the
// call-in code uses.
type (
	Kind  = fault.Kind
	Error = fault.Error
)

// Error kinds.
const (
	KindInvalid     = fault.Invalid // the request is wrong (includes an unknown group on allocation)
	KindNotFound    = fault.NotFound
	KindExhausted   = fault.Exhausted // every number of the pool is reserved
	KindUnavailable = fault.Unavailable
)

// Errorf builds an Error.
func Errorf(k Kind, format string, a ...any) *Error { return fault.Errorf(k, format, a...) }

// KindOf returns the kind of err (0 when it is not an *Error).
func KindOf(err error) Kind { return fault.KindOf(err) }

// NumberInUseError is what a store returns when a group would take a
// number another group of the tenant owns: a dialled number must lead to
// one group's reservations.
type NumberInUseError struct {
	Number, Group string
}

func (e *NumberInUseError) Error() string {
	return "Number " + e.Number + " already belongs to group " + e.Group
}
