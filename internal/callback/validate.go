package callback

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Caps on what a caller may store in a callback. Both stores and ORS get
// only text that passes these checks: Postgres refuses NUL and invalid
// UTF-8 (which used to surface as 503), and a phone number of kilobytes
// would overflow its index. Names and keys are counted in characters,
// values in bytes.
const (
	MaxPhoneChars   = 64        // the number as sent, separators included
	MaxPhoneDigits  = 32        // digits of the number once separators are stripped
	MaxNameChars    = 256       // service names, GMS keys, user data keys, reasons
	MaxValueBytes   = 64 * 1024 // one GMS key's or user data member's value
	MaxUserDataKeys = 1000      // members of the user data object, all levels together
)

// invalid builds the KindInvalid error every check returns.
func invalid(format string, a ...any) *Error { return Errorf(KindInvalid, format, a...) }

// CheckText refuses text neither store can keep: NUL characters and bytes
// that are not UTF-8. U+FFFD itself is a valid character and is accepted;
// the HTTP layer refuses the raw inputs (invalid bytes, lone surrogate
// escapes) that a JSON decoder would silently turn into it.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return invalid("Invalid %s: not valid UTF-8 text", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("Invalid %s: contains a NUL character", field)
	}
	return nil
}

// checkName is CheckText with the cap of names and keys.
func checkName(field, s string) error {
	if err := CheckText(field, s); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(s); n > MaxNameChars {
		return invalid("Invalid %s: %d characters, at most %d are allowed", field, n, MaxNameChars)
	}
	return nil
}

// checkValue is CheckText with the cap of values.
func checkValue(field, s string) error {
	if err := CheckText(field, s); err != nil {
		return err
	}
	if len(s) > MaxValueBytes {
		return invalid("Invalid %s: %d bytes, at most %d are allowed", field, len(s), MaxValueBytes)
	}
	return nil
}

// NormalizePhone checks a phone number and returns the form that is stored
// and dialled: digits with an optional leading +, the separators customers
// type (space, - . ( ) and /) stripped. Letters, markup or any other
// character are refused, as is a number without digits or longer than the
// caps. The per-number limits then see +1 (555) 010-0200 and +15550100200 as
// the same number.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("phoneNumber is required")
	}
	if err := CheckText("phoneNumber", s); err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(s); n > MaxPhoneChars {
		return "", invalid("Invalid phoneNumber: %d characters, at most %d are allowed", n, MaxPhoneChars)
	}
	var b strings.Builder
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/':
		default:
			return "", invalid("Invalid phoneNumber: %s (expected digits, an optional leading + and the separators space - . ( ) /)", strconv.QuoteToASCII(truncateText(s, 32)))
		}
	}
	if digits == 0 {
		return "", invalid("Invalid phoneNumber: %s has no digits", strconv.QuoteToASCII(truncateText(s, 32)))
	}
	if digits > MaxPhoneDigits {
		return "", invalid("Invalid phoneNumber: %d digits, at most %d are allowed", digits, MaxPhoneDigits)
	}
	return b.String(), nil
}

// ValidateCreate checks every text of a booking against the caps and
// rules above and normalises its phone number (see NormalizePhone).
func ValidateCreate(r *CreateRequest) error {
	if strings.TrimSpace(r.Service) == "" {
		return invalid("serviceName is required")
	}
	if err := checkName("serviceName", r.Service); err != nil {
		return err
	}
	phone, err := NormalizePhone(r.Phone)
	if err != nil {
		return err
	}
	r.Phone = phone
	if err := checkProps(r.Props); err != nil {
		return err
	}
	return ValidateUserData(r.UserData)
}

func checkProps(props map[string]string) error {
	for k, v := range props {
		if err := checkName("key "+quoteKey(k), k); err != nil {
			return err
		}
		if err := checkValue(quoteKey(k), v); err != nil {
			return err
		}
	}
	return nil
}

// ValidateUserData checks attached data: a JSON object (or nothing) whose
// keys are names, none twice in one object, and whose string values are
// values, at every level, with at most MaxUserDataKeys members in all.
func ValidateUserData(raw json.RawMessage) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	if !utf8.Valid(raw) {
		return invalid("Invalid userData: not valid UTF-8 text")
	}
	if esc, found := LoneSurrogate(raw); found {
		return invalid("Invalid userData: a string holds a lone UTF-16 surrogate escape (%s)", esc)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return invalid("Invalid userData: expected a JSON object")
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return invalid("Invalid userData: expected a JSON object")
	}
	members := 0
	// levels[i] is the container at depth i: the keys seen so far for an
	// object (so that its keys are told apart from its values and none is
	// named twice), nil for an array.
	levels := []map[string]bool{{}}
	expectKey := true
	key := ""
	isObject := func() bool { return len(levels) > 0 && levels[len(levels)-1] != nil }
	for len(levels) > 0 {
		tok, err := d.Token()
		if err != nil { // a truncated object ends with io.EOF too
			return invalid("Invalid userData: expected a JSON object")
		}
		top := isObject()
		if top && expectKey {
			if delim, ok := tok.(json.Delim); ok && delim == '}' {
				levels = levels[:len(levels)-1]
				expectKey = isObject()
				continue
			}
			k, _ := tok.(string)
			members++
			if members > MaxUserDataKeys {
				return invalid("Invalid userData: more than %d keys", MaxUserDataKeys)
			}
			if err := checkName("userData key "+quoteKey(k), k); err != nil {
				return err
			}
			// Decoders disagree on which of two equal keys wins.
			if levels[len(levels)-1][k] {
				return invalid("Invalid userData: duplicate key %s", quoteKey(k))
			}
			levels[len(levels)-1][k] = true
			key, expectKey = k, false
			continue
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				levels = append(levels, map[string]bool{})
				expectKey = true
			case '[':
				levels = append(levels, nil)
			default: // ']' ('}' is handled with the keys)
				levels = levels[:len(levels)-1]
				expectKey = isObject()
			}
			continue
		case string:
			if err := checkValue("userData "+quoteKey(key), v); err != nil {
				return err
			}
		}
		expectKey = top
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return invalid("Invalid userData: trailing data after the JSON object")
	}
	return nil
}

// LoneSurrogate finds a \\u escape of a UTF-16 surrogate without its pair
// in raw JSON: decoders turn it into U+FFFD without a word, and Postgres
// refuses it in jsonb. It returns the escape found.
func LoneSurrogate(b []byte) (string, bool) {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) || b[i+1] != 'u' {
			i++ // skip the escaped character (it may be a backslash)
			continue
		}
		c, ok := hex4(b, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case c >= 0xD800 && c <= 0xDBFF:
			if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return string(b[i : i+6]), true
		case c >= 0xDC00 && c <= 0xDFFF:
			return string(b[i : i+6]), true
		}
		i += 5
	}
	return "", false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// ValidateReport checks the keys and values of a GMS update before any of
// them is applied, and normalises a new _customer_number in kv.
func ValidateReport(kv map[string]string) error {
	for k, v := range kv {
		if err := checkName("key "+quoteKey(k), k); err != nil {
			return err
		}
		if err := checkValue(quoteKey(k), v); err != nil {
			return err
		}
	}
	if v := kv[KeyCustomerNumber]; v != "" {
		phone, err := NormalizePhone(v)
		if err != nil {
			return err
		}
		kv[KeyCustomerNumber] = phone
	}
	return nil
}

// ValidateReason checks a completion reason a caller gives (cancel).
func ValidateReason(reason string) error { return checkName("reason", reason) }

// ValidateQuery checks the texts of a query, which are sent to the
// durable store.
func ValidateQuery(q Query) error {
	if err := checkName("service", q.Service); err != nil {
		return err
	}
	for _, f := range q.Filters {
		if err := checkName("filter "+quoteKey(f.Key), f.Key); err != nil {
			return err
		}
		if err := checkValue("filter "+quoteKey(f.Key), f.Value); err != nil {
			return err
		}
	}
	return nil
}

// quoteKey renders a caller's key for a message: quoted, ASCII only, cut.
func quoteKey(k string) string { return strconv.QuoteToASCII(truncateText(k, 64)) }

// truncateText cuts s to at most n bytes without splitting a character.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
