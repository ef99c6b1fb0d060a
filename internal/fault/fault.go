// Package fault is the domain's one error type: a kind every API maps to
// its own status and envelope (one table per API family, at the edge), and
// a message meant for the caller. Nothing matches an error by its text.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a domain error.
type Kind int

// Kinds of domain errors.
const (
	Invalid     Kind = iota + 1 // the request is wrong
	NotFound                    // no such thing (or another tenant's)
	Conflict                    // the state forbids the action
	NoCapacity                  // the slot is full
	Throttled                   // a limit or a rate window refuses the request
	Exhausted                   // a pool has nothing left to give (call-in numbers)
	Unavailable                 // a store or a platform service is down
)

// Limit names the limit a Throttled error comes from, so the edge can
// count each in the metric it belongs to.
type Limit int

// Limits a request can be refused by.
const (
	NoLimit   Limit = iota
	PerNumber       // active callbacks of one number in one service
	Rate            // the service's rate windows
	Queued          // callbacks in the service's queue
	Daily           // creates of one number in one service per day
)

// Error is a domain error.
type Error struct {
	Kind  Kind
	Msg   string
	Limit Limit             // with Throttled: which limit
	Slots map[string]string // proposals that go with NoCapacity
	// RetryAfter tells a throttled caller when a retry may succeed.
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
