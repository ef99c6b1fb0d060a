// Package callback is the heart of GES: a callback's record, its states and
// the rules that move it between them. It knows nothing of HTTP, Redis or
// SQL: handlers translate wire formats into these calls, stores persist the
// records.
package callback

import (
	"encoding/json"
	"time"
)

// State of a callback.
type State string

// The states, in the only order they may advance (COMPLETED is reachable
// from every state).
const (
	Scheduled  State = "SCHEDULED"
	Queued     State = "QUEUED"
	Routing    State = "ROUTING"
	Processing State = "PROCESSING"
	Completed  State = "COMPLETED"
	// Paused is never stored: it is how a SCHEDULED callback that fell
	// due is shown while its paused service holds it back (see Shown).
	Paused State = "PAUSED"
)

// Shown is the state the APIs and the UI show: PAUSED for a due callback
// held back by its paused service, the stored state otherwise.
func (c *Callback) Shown() State {
	if c.Held && c.State == Scheduled {
		return Paused
	}
	return c.State
}

func (s State) rank() int {
	switch s {
	case Scheduled:
		return 0
	case Queued:
		return 1
	case Routing:
		return 2
	case Processing:
		return 3
	case Completed:
		return 4
	}
	return -1
}

// ParseState returns the state named s (case-insensitive) and whether it is
// one of the five states.
func ParseState(s string) (State, bool) {
	st := State(upper(s))
	return st, st.rank() >= 0
}

// Final reports whether no further change can happen.
func (s State) Final() bool { return s == Completed }

// InQueue reports whether position and wait time mean something.
func (s State) InQueue() bool { return s == Queued || s == Routing || s == Processing }

// Completion reasons GES itself sets. ORS may report any other string.
const (
	ReasonCancelled        = "CANCELLED"
	ReasonCancelledByAdmin = "CANCELLED_BY_ADMIN"
	ReasonAgentConnected   = "AGENT_CONNECTED"
	ReasonTimeoutTTL       = "FAIL_TIMEOUT_TTL"
	ReasonQueueing         = "FAIL_QUEUEING"
	// ReasonSessionEnded completes a callback whose ORS session ended
	// after routing began without a final report (the report was lost):
	// the customer may have been called, so it is not tried again.
	ReasonSessionEnded = "FAIL_ORS_SESSION_ENDED"
	// ReasonNotAcknowledged completes a create that was answered with an
	// error while its Postgres commit still landed: the caller was told
	// no, so it is never dialled.
	ReasonNotAcknowledged = "FAIL_NOT_ACKNOWLEDGED"
)

// Callback is one callback record.
type Callback struct {
	ID        string
	Tenant    string // contact center id
	Service   string // callback service = virtual queue name
	Phone     string
	State     State
	Reason    string
	Desired   time.Time // when the customer wants the call (creation time when immediate)
	Scheduled bool      // the customer asked for a time
	Created   time.Time
	Updated   time.Time
	Expires   time.Time // past it a non-final callback fails with FAIL_TIMEOUT_TTL
	Attempt   int       // hand-offs to ORS so far
	Submitted time.Time // last hand-off
	Entry     string    // NewCallbackStream entry id of the last hand-off
	Session   string    // ORS session id, once ORS reported it
	Reported  time.Time // last report from ORS
	Position  int       // last position ORS reported, 0 when unknown
	EWT       int       // last wait estimate ORS reported (seconds), -1 when unknown
	SlotStart int64     // start (unix ms) of the capacity slot the callback holds, 0 when none
	// QueueFrom is the earliest a scheduled callback of a service that
	// queues ahead may be handed off: its queue's wait is then asked from
	// then on (zero: handed off at Desired). See HandoffAt.
	QueueFrom time.Time
	// Props holds the GMS-style keys of the record that are not fields above:
	// options sent on create (_route_point, cbOfferType, ...) and keys ORS
	// reports (_CB_DIAL_1_RESULT, ...). Values are text, as in GMS.
	Props map[string]string
	// UserData is the caller's attached data (a JSON object); its keys and
	// values are kept, its spacing may not be (Postgres normalises JSON).
	UserData json.RawMessage
	// Detached says the user data is not in this copy: the hot store keeps
	// large user data out of memory, and the durable store holds it.
	Detached bool
	// Held says its paused service holds it back from ORS although it is
	// due (known to the hot store only; never stored).
	Held bool
	Rev  int64 // bumped by every change; orders writes to the durable store
}

// Clone returns a deep copy, so a change can be prepared without touching
// the original.
func (c *Callback) Clone() *Callback {
	d := *c
	d.Props = make(map[string]string, len(c.Props))
	for k, v := range c.Props {
		d.Props[k] = v
	}
	return &d
}

// Event is an entry of a callback's state history.
type Event struct {
	At     time.Time
	Rev    int64
	State  State
	Reason string
	Source string // api, internal-api, monitor, ors, ui, admin
	Detail map[string]string
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
