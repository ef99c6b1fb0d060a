package callback

import (
	"errors"

	"github.com/gesgo/ges/internal/fault"
)

// The domain's error type and kinds (package fault), under the names the
// callback code uses.
type (
	Kind  = fault.Kind
	Error = fault.Error
)

// Error kinds.
const (
	KindInvalid     = fault.Invalid
	KindNotFound    = fault.NotFound
	KindConflict    = fault.Conflict
	KindNoCapacity  = fault.NoCapacity
	KindThrottled   = fault.Throttled
	KindUnavailable = fault.Unavailable
)

// Errorf builds a domain error.
func Errorf(k Kind, format string, a ...any) *Error { return fault.Errorf(k, format, a...) }

// KindOf returns the kind of err (0 for errors that are not domain errors).
func KindOf(err error) Kind { return fault.KindOf(err) }

// ErrNotFound is returned for unknown ids.
var ErrNotFound = &Error{Kind: KindNotFound, Msg: "Callback not found"}

// Store errors the domain reacts to.
var (
	ErrConflict = errors.New("callback changed concurrently")
	ErrExists   = errors.New("callback already exists")
	// ErrStale: the durable store holds this revision or a newer one.
	ErrStale = errors.New("durable copy is newer")
)
