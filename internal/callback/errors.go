package callback

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies domain errors so each API can map them to its own
// envelope and status in one place.
type Kind int

// Error kinds.
const (
	KindInvalid     Kind = iota + 1 // the request is wrong
	KindNotFound                    // no such callback (or another tenant's)
	KindConflict                    // the callback is in a state that forbids the action
	KindNoCapacity                  // the slot is full
	KindThrottled                   // a per-number or rate limit
	KindUnavailable                 // a store is down
)

// Error is a domain error with a kind and a message meant for the caller.
type Error struct {
	Kind    Kind
	Msg     string
	Counter string            // alert counter to move, if any
	Slots   map[string]string // proposals that go with KindNoCapacity
	// RetryAfter tells a throttled caller when a rate window reopens.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a domain error.
func Errorf(k Kind, format string, a ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, a...)}
}

// KindOf returns the kind of err (0 for errors that are not domain errors).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// ErrNotFound is returned for unknown ids.
var ErrNotFound = &Error{Kind: KindNotFound, Msg: "Callback not found"}

// Store errors the domain reacts to.
var (
	ErrConflict = errors.New("callback changed concurrently")
	ErrExists   = errors.New("callback already exists")
	// ErrStale: the durable store holds this revision or a newer one.
	ErrStale = errors.New("durable copy is newer")
)
