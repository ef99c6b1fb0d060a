package httpapi

import (
	"net/http"

	"github.com/gesgo/ges/internal/fault"
	"github.com/gesgo/ges/internal/metrics"
)

// The answer of each API family to each kind of domain error: one table
// per family, read by its failErr. A kind missing from a table is answered
// 503 and logged, as an unexpected failure.

// gmsAnswer is a status and the GMS exception class that goes with it.
type gmsAnswer struct {
	status    int
	exception string
	quiet     bool // an expected refusal: not logged
}

// gmsStatus is the internal (GMS) API's table.
var gmsStatus = map[fault.Kind]gmsAnswer{
	fault.Invalid:    {http.StatusBadRequest, excInvalid, true},
	fault.Conflict:   {http.StatusBadRequest, excState, true},
	fault.NotFound:   {http.StatusNotFound, excNotFound, true},
	fault.NoCapacity: {http.StatusBadRequest, excCapacity, true},
	// GMS refuses a create over a limit as the service being unavailable.
	fault.Throttled:   {http.StatusServiceUnavailable, excUnavailable, true},
	fault.Exhausted:   {http.StatusServiceUnavailable, excUnavailable, true},
	fault.Unavailable: {http.StatusServiceUnavailable, excUnavailable, false},
}

// externalStatus is the external API's table; the bool tells an expected
// refusal (not logged).
var externalStatus = map[fault.Kind]struct {
	status int
	quiet  bool
}{
	fault.Invalid:     {http.StatusBadRequest, true},
	fault.Conflict:    {http.StatusBadRequest, true},
	fault.NotFound:    {http.StatusNotFound, true},
	fault.NoCapacity:  {http.StatusTooManyRequests, true},
	fault.Throttled:   {http.StatusTooManyRequests, true},
	fault.Exhausted:   {http.StatusBadRequest, true},
	fault.Unavailable: {http.StatusServiceUnavailable, false},
}

// limitAlert is the guide's alert counter each limit's refusals count in.
var limitAlert = map[fault.Limit]string{
	fault.PerNumber: metrics.CBEnqueueLimitReached,
	fault.Queued:    metrics.CBEnqueueLimitReached,
	fault.Daily:     metrics.CBEnqueueLimitReached,
	fault.Rate:      metrics.CBTTLLimitReached,
}
