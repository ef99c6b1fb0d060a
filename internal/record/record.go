// Package record is the compact encoding of a callback shared by both
// stores: Redis keeps it as the hot copy and Postgres as the durable one, so
// a restore is a copy and a comparison is a byte match.
package record

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/callback"
)

// rec is the compact encoding of a callback: short names, times as unix
// milliseconds, empty values left out. User data is stored beside it.
type rec struct {
	Service   string            `json:"s"`
	Phone     string            `json:"n"`
	State     string            `json:"st"`
	Reason    string            `json:"r,omitempty"`
	Desired   int64             `json:"d"`
	Scheduled bool              `json:"sc,omitempty"`
	Created   int64             `json:"c"`
	Updated   int64             `json:"u,omitempty"`
	Expires   int64             `json:"x"`
	Attempt   int               `json:"a,omitempty"`
	Submitted int64             `json:"sb,omitempty"`
	Session   string            `json:"o,omitempty"`
	Reported  int64             `json:"rp,omitempty"`
	Position  int               `json:"p,omitempty"`
	EWT       int               `json:"e,omitempty"`
	SlotStart int64             `json:"sl,omitempty"`
	QueueFrom int64             `json:"qf,omitempty"`
	Entry     string            `json:"en,omitempty"`
	Props     map[string]string `json:"k,omitempty"`
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Encode returns the compact header of cb. The id and tenant are not in
// it: the key (or the row) already says them. The durable store keeps the
// same encoding, so a restore is a copy.
func Encode(cb *callback.Callback) []byte {
	r := rec{
		Service: cb.Service, Phone: cb.Phone,
		State: string(cb.State), Reason: cb.Reason, Desired: ms(cb.Desired), Scheduled: cb.Scheduled,
		Created: ms(cb.Created), Updated: ms(cb.Updated), Expires: ms(cb.Expires),
		Attempt: cb.Attempt, Submitted: ms(cb.Submitted), Session: cb.Session, Reported: ms(cb.Reported),
		Position: cb.Position, EWT: cb.EWT + 1, SlotStart: cb.SlotStart, Entry: cb.Entry, Props: cb.Props,
		QueueFrom: ms(cb.QueueFrom),
	}
	if len(r.Props) == 0 {
		r.Props = nil
	}
	b, _ := json.Marshal(r)
	return b
}

// Decode rebuilds a callback from its header, user data and revision.
func Decode(tenant, id string, h, u []byte, rev int64) (*callback.Callback, error) {
	var r rec
	if err := json.Unmarshal(h, &r); err != nil {
		return nil, err
	}
	cb := &callback.Callback{
		ID: id, Tenant: tenant, Service: r.Service, Phone: r.Phone,
		State: callback.State(r.State), Reason: r.Reason, Desired: fromMS(r.Desired), Scheduled: r.Scheduled,
		Created: fromMS(r.Created), Updated: fromMS(r.Updated), Expires: fromMS(r.Expires),
		Attempt: r.Attempt, Submitted: fromMS(r.Submitted), Session: r.Session, Reported: fromMS(r.Reported),
		Position: r.Position, EWT: r.EWT - 1, SlotStart: r.SlotStart, Entry: r.Entry, Props: r.Props, Rev: rev,
		QueueFrom: fromMS(r.QueueFrom),
	}
	if cb.Props == nil {
		cb.Props = map[string]string{}
	}
	if len(u) > 0 {
		cb.UserData = append(json.RawMessage(nil), u...)
	}
	return cb, nil
}

// detached stands for user data kept out of the hot copy. User data is a
// JSON object, so it never starts with it.
const detached = "@"

// Value is the Redis string of a record: "<rev>:<header length>:<header><user data>".
// User data longer than inline bytes (0: no limit) is left out, marked
// detached: the durable store holds it. A copy that is detached already
// stays so.
func Value(cb *callback.Callback, inline int) string {
	h := Encode(cb)
	ud := string(cb.UserData)
	if cb.Detached || (inline > 0 && len(ud) > inline) {
		ud = detached
	}
	return strconv.FormatInt(cb.Rev, 10) + ":" + strconv.Itoa(len(h)) + ":" + string(h) + ud
}

// Parse splits a record string made by Value.
func Parse(tenant, id, v string) (*callback.Callback, error) {
	rev, rest, ok1 := strings.Cut(v, ":")
	hl, rest, ok2 := strings.Cut(rest, ":")
	n, err := strconv.Atoi(hl)
	if !ok1 || !ok2 || err != nil || n < 0 || n > len(rest) {
		return nil, fmt.Errorf("corrupt callback record %s", id)
	}
	r, _ := strconv.ParseInt(rev, 10, 64)
	if rest[n:] == detached {
		cb, err := Decode(tenant, id, []byte(rest[:n]), nil, r)
		if cb != nil {
			cb.Detached = true
		}
		return cb, err
	}
	return Decode(tenant, id, []byte(rest[:n]), []byte(rest[n:]), r)
}

// Rev reads the revision at the front of a record string without decoding
// the rest; ok is false for a value that is not a record.
func Rev(v string) (int64, bool) {
	rev, _, ok := strings.Cut(v, ":")
	if !ok {
		return 0, false
	}
	r, err := strconv.ParseInt(rev, 10, 64)
	return r, err == nil
}
