package callback

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Policy holds the monitor settings the lifecycle rules depend on.
type Policy struct {
	ReportTimeout time.Duration // silent window after a hand-off before resubmission
	MaxAttempts   int           // hand-offs before FAIL_QUEUEING
}

// NextCheck tells when the monitor must look at cb again, and false when
// never (final callbacks). Every non-final state has a deadline: a callback
// ORS is working on is looked at again once its reported wait and the
// report timeout have passed without news, so a lost report cannot leave it
// open until its TTL.
func NextCheck(cb *Callback, p Policy) (time.Time, bool) {
	switch {
	case cb.State.Final():
		return time.Time{}, false
	case cb.State == Scheduled:
		// A callback that queues ahead is first looked at when its lead
		// may begin; the lead its queue then asks for decides the rest.
		if !cb.QueueFrom.IsZero() && cb.QueueFrom.Before(cb.Desired) {
			return minTime(cb.QueueFrom, cb.Expires), true
		}
		return minTime(cb.Desired, cb.Expires), true
	case cb.awaitingReport():
		return minTime(cb.Submitted.Add(p.ReportTimeout), cb.Expires), true
	case cb.State.InQueue() && !cb.Reported.IsZero():
		return minTime(cb.silenceDeadline(p), cb.Expires), true
	default:
		return cb.Expires, true
	}
}

// silenceDeadline is when ORS has been quiet about a callback it reported
// on for longer than the wait it announced plus the report timeout.
func (c *Callback) silenceDeadline(p Policy) time.Time {
	return c.Reported.Add(time.Duration(max(c.EWT, 0))*time.Second + p.ReportTimeout)
}

// awaitingReport is true after a hand-off that ORS has not acknowledged.
func (c *Callback) awaitingReport() bool {
	return !c.Submitted.IsZero() && c.Reported.Before(c.Submitted)
}

func minTime(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// ActionKind is what the monitor must do with a due callback.
type ActionKind int

// Monitor actions.
const (
	Wait    ActionKind = iota // nothing yet; look again at Action.At
	Handoff                   // write it to the ORS stream (again)
	Fail                      // complete it with Action.Reason
	Drop                      // final: forget the timer
	// Unanswered: handed off, no report within the timeout. The monitor
	// finds out whether ORS read the entry and asks Unanswered.
	Unanswered
	// Probe: ORS went quiet about a callback it was working on. The
	// monitor asks ORS about the session and then asks Probed.
	Probe
)

// Action is the monitor's decision for one callback.
type Action struct {
	Kind   ActionKind
	Reason string
	At     time.Time
}

// HandoffAt is when a SCHEDULED callback is handed to ORS, given the lead
// its queue asks for now (its expected wait and buffer): Desired less the
// lead, never before QueueFrom and never after Desired. A callback that
// does not queue ahead is handed off at Desired.
func (c *Callback) HandoffAt(lead time.Duration) time.Time {
	if c.QueueFrom.IsZero() || !c.QueueFrom.Before(c.Desired) {
		return c.Desired
	}
	at := c.Desired.Add(-max(lead, 0))
	if at.Before(c.QueueFrom) {
		return c.QueueFrom
	}
	return at
}

// QueuesAhead reports whether the hand-off of cb depends on its queue's
// lead (see HandoffAt) at now.
func (c *Callback) QueuesAhead(now time.Time) bool {
	return c.State == Scheduled && !c.QueueFrom.IsZero() && now.Before(c.Desired)
}

// Due decides what the monitor does with cb at now.
func Due(cb *Callback, now time.Time, p Policy) Action { return DueLead(cb, now, p, 0) }

// DueLead is Due for a callback whose queue asks for lead ahead of its
// desired time (see HandoffAt).
func DueLead(cb *Callback, now time.Time, p Policy, lead time.Duration) Action {
	if cb.State.Final() {
		return Action{Kind: Drop}
	}
	if !cb.Expires.IsZero() && !now.Before(cb.Expires) {
		return Action{Kind: Fail, Reason: ReasonTimeoutTTL}
	}
	switch {
	case cb.State == Scheduled:
		at := cb.HandoffAt(lead)
		if !now.Before(at) {
			return Action{Kind: Handoff}
		}
		return Action{Kind: Wait, At: minTime(at, cb.Expires)}
	case cb.awaitingReport():
		if !now.Before(cb.Submitted.Add(p.ReportTimeout)) {
			return Action{Kind: Unanswered}
		}
	case cb.State.InQueue() && !cb.Reported.IsZero():
		if !now.Before(cb.silenceDeadline(p)) {
			return Action{Kind: Probe}
		}
	}
	at, _ := NextCheck(cb, p)
	return Action{Kind: Wait, At: at}
}

// AfterSilence decides about a hand-off ORS did not answer. While the
// stream entry is unread ORS has not seen the callback (paused, busy or
// down); while ORS holds it (read, not acknowledged) a session may be
// running that has not reported yet. Either way a second entry would give
// the customer two calls, so the callback waits. Read and acknowledged but
// unanswered means the ORS that took it let it go: the callback is handed
// off again, up to the attempt limit.
func AfterSilence(cb *Callback, read, held bool, now time.Time, p Policy) Action {
	if !read || held {
		return Action{Kind: Wait, At: minTime(now.Add(p.ReportTimeout), cb.Expires)}
	}
	if cb.Attempt < p.MaxAttempts {
		return Action{Kind: Handoff}
	}
	return Action{Kind: Fail, Reason: ReasonQueueing}
}

// SessionStatus is what ORS said about a callback's session.
type SessionStatus int

// Session answers.
const (
	SessionUnknown SessionStatus = iota // ORS could not be asked
	SessionAlive
	SessionGone
)

// Probed decides about a callback ORS went quiet on, given its session. A
// live session (or an ORS that cannot be asked) is given more time; a
// session that ended without a final report lost it: a callback still
// queued is handed off again (nobody was called), one that was being routed
// or dialled is completed, since the customer may have been called.
func Probed(cb *Callback, st SessionStatus, now time.Time, p Policy) Action {
	if st != SessionGone {
		return Action{Kind: Wait, At: minTime(now.Add(p.ReportTimeout), cb.Expires)}
	}
	if cb.State != Queued {
		return Action{Kind: Fail, Reason: ReasonSessionEnded}
	}
	if cb.Attempt < p.MaxAttempts {
		return Action{Kind: Handoff}
	}
	return Action{Kind: Fail, Reason: ReasonQueueing}
}

// MarkHandedOff records a hand-off to ORS, made at now, as the next attempt
// through the stream entry id. The session of an earlier attempt is kept
// aside, so its late reports are recognised as superseded; a report that
// came after now already answers this entry and is kept.
func MarkHandedOff(cb *Callback, entry string, now time.Time) {
	cb.Attempt++
	cb.Submitted = now
	cb.Entry = entry
	if cb.Reported.Before(now) {
		if cb.Session != "" {
			cb.Props[KeyPrevSession] = cb.Session
			cb.Session = ""
		}
		cb.Position, cb.EWT = 0, -1
	}
	if cb.State == Scheduled || cb.Reported.Before(now) {
		cb.State = Queued
	}
}

// Superseded reports whether a report comes from the ORS session of an
// earlier attempt: it is answered, but changes nothing.
func Superseded(cb *Callback, kv map[string]string) bool {
	sid := kv[KeySession]
	return sid != "" && sid != cb.Session && sid == cb.Props[KeyPrevSession]
}

// Complete finishes cb with a reason.
func Complete(cb *Callback, reason string) {
	cb.State = Completed
	cb.Reason = reason
}

// Cancel applies a cancel request. strict is the external API's rule, where
// cancelling a completed callback is an error; the GMS API answers it
// without a change. It reports whether cb changed.
func Cancel(cb *Callback, reason string, strict bool) (bool, error) {
	switch cb.State {
	case Processing:
		return false, Errorf(KindConflict, "Callback %s is in PROCESSING state and cannot be cancelled", cb.ID)
	case Completed:
		if strict {
			return false, Errorf(KindConflict, "Callback %s is already completed", cb.ID)
		}
		return false, nil
	}
	Complete(cb, reason)
	return true, nil
}

// Report keys with a meaning of their own. Every other key is stored as is.
const (
	KeyState          = "_callback_state"
	KeyReason         = "_callback_reason"
	KeySession        = "_ors_session_id"
	KeyNewDesiredTime = "_new_desired_time"
	KeyDesiredTime    = "_desired_time"
	KeyCustomerNumber = "_customer_number"
	KeyServiceName    = "_service_name"
	KeyPosition       = "_position"
	KeyEWT            = "_ewt"
	KeyID             = "_id"
	// KeyPrevSession keeps the ORS session of the attempt before a
	// resubmission.
	KeyPrevSession = "_prev_ors_session_id"
)

// readOnly keys describe the record and cannot be set through a report.
var readOnly = map[string]bool{KeyID: true, KeyServiceName: true, "_expiration_time": true, "_url": true, KeyPrevSession: true}

// ParseTime reads the time forms GMS clients send: RFC 3339 with any
// fraction and offset, or no offset at all (taken as UTC).
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// ApplyReport applies a report (a GMS update: ORS progress, a reschedule,
// or plain key changes) to cb. A regression of state is ignored, as ORS
// reports may arrive out of order; an empty value deletes a key.
// It returns the new desired time when the report reschedules cb.
func ApplyReport(cb *Callback, kv map[string]string, now time.Time) (rescheduled bool, err error) {
	if st, ok := kv[KeyState]; ok && st != "" {
		next, valid := ParseState(st)
		if !valid {
			return false, Errorf(KindInvalid, "Invalid %s: %s", KeyState, st)
		}
		if cb.State.Final() && next != Completed {
			return false, Errorf(KindConflict, "Callback %s is already completed", cb.ID)
		}
		if next.rank() > cb.State.rank() {
			cb.State = next
			if next == Completed {
				cb.Reason = kv[KeyReason]
				if cb.Reason == "" {
					cb.Reason = "NOT_AVAILABLE"
				}
			}
		}
	} else if r := kv[KeyReason]; r != "" && cb.State.Final() {
		cb.Reason = r
	}
	newTime := kv[KeyNewDesiredTime]
	if newTime == "" && kv[KeyDesiredTime] != "" && cb.State == Scheduled {
		if t, ok := ParseTime(kv[KeyDesiredTime]); !ok || !t.Equal(cb.Desired) {
			newTime = kv[KeyDesiredTime]
		}
	}
	if newTime != "" {
		t, ok := ParseTime(newTime)
		if !ok {
			return false, Errorf(KindInvalid, "Invalid %s: %s", KeyNewDesiredTime, newTime)
		}
		if cb.State == Processing || cb.State.Final() {
			return false, Errorf(KindConflict, "Callback %s in %s state cannot be rescheduled", cb.ID, cb.State)
		}
		cb.Expires = t.Add(cb.Expires.Sub(cb.Desired))
		cb.Desired, cb.Scheduled, cb.State = t, true, Scheduled
		if cb.Session != "" {
			// The session ORS had is ended; its late reports change nothing.
			cb.Props[KeyPrevSession] = cb.Session
		}
		cb.Session, cb.Submitted, cb.Entry, cb.Position, cb.EWT = "", time.Time{}, "", 0, -1
		rescheduled = true
	}
	for k, v := range kv {
		switch k {
		case KeyState, KeyReason, KeyNewDesiredTime, KeyDesiredTime:
		case KeySession:
			cb.Session = v
		case KeyPosition:
			cb.Position = atoiOr(v, 0)
		case KeyEWT, "ewt":
			cb.EWT = atoiOr(v, -1)
		case KeyCustomerNumber:
			if v != "" {
				cb.Phone = v
			}
		default:
			if readOnly[k] {
				continue
			}
			if setUserData(cb, k, v) {
				continue
			}
			if v == "" {
				delete(cb.Props, k)
			} else {
				cb.Props[k] = v
			}
		}
	}
	if !rescheduled {
		cb.Reported = now
	}
	return rescheduled, nil
}

func atoiOr(s string, def int) int {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return def
	}
	return int(f + 0.5)
}

// setUserData changes a key of the attached user data, if the user data
// has it (an empty value deletes it), and reports whether it did.
func setUserData(cb *Callback, k, v string) bool {
	if len(cb.UserData) == 0 {
		return false
	}
	var ud map[string]json.RawMessage
	if json.Unmarshal(cb.UserData, &ud) != nil {
		return false
	}
	if _, ok := ud[k]; !ok {
		return false
	}
	if v == "" {
		delete(ud, k)
	} else {
		ud[k], _ = json.Marshal(v)
	}
	if len(ud) == 0 {
		cb.UserData = nil
		return true
	}
	cb.UserData, _ = json.Marshal(ud)
	return true
}
