// Package voice is GES' side of the Voice platform: the hand-off of due
// callbacks to ORS through the NewCallbackStream Redis stream. The entry
// format lives here and nowhere else, so a change of schema touches one file.
package voice

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/luascript"
	"github.com/gesgo/ges/internal/settings"
)

// submitScript adds the stream entries of a batch, each only if this
// attempt of this callback was not added before, so that a node that dies
// after the XADD and before recording it cannot cause a second entry when
// another node retries. The markers are fields of one hash per day (the
// attempt, "<ccid>:<id>:<attempt>", and the entry id, which a repeat gets
// back): one HMGET per day for the batch and one HSET at the end cost the
// Voice Redis a fraction of a key and a SET per entry, and as the script
// runs whole or not at all, the markers are as safe written last. The
// entry's constant fields are written here, so that each entry sends only
// its own values. A burst of hand-offs costs a few microseconds per entry.
// KEYS: today's markers, yesterday's markers, the stream
// ARGV: 1 marker TTL (s), 2 max length, 3 ccid (one tenant per call), then
// per entry: callbackId, attempt, payload.
// Returns added (1/0) and the entry id of each entry.
var submitScript = redis.NewScript(`
local per = 3
local n = (#ARGV - 3) / per
local ccid = ARGV[3]
local marks = {}
for i = 1, n do
  local b = 3 + (i - 1) * per
  marks[i] = ccid .. ':' .. ARGV[b + 1] .. ':' .. ARGV[b + 2]
end
local today = redis.call('HMGET', KEYS[1], unpack(marks))
local before = redis.call('HMGET', KEYS[2], unpack(marks))
-- a marker set by this call, should one attempt come twice
local added = {}
local set = {'HSET', KEYS[1]}
local out = {}
for i = 1, n do
  local m = marks[i]
  local had = today[i] or before[i] or added[m]
  if had then
    out[#out + 1] = 0
    out[#out + 1] = had
  else
    local b = 3 + (i - 1) * per
    local id = redis.call('XADD', KEYS[3], '*', 'type', 'callback.start', 'version', '1',
      'ccid', ccid, 'callbackId', ARGV[b + 1], 'attempt', ARGV[b + 2], 'payload', ARGV[b + 3])
    added[m] = id
    set[#set + 1] = m
    set[#set + 1] = id
    out[#out + 1] = 1
    out[#out + 1] = id
  end
end
if #set > 2 then
  redis.call(unpack(set))
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  -- trimmed once per call rather than per entry: the same bound
  redis.call('XTRIM', KEYS[3], 'MAXLEN', '~', ARGV[2])
end
return out
`)

// submitChunk bounds the entries of one script call, so that the Voice
// Redis, which ORS reads too, is never held for long.
const submitChunk = 256

// markerTTL keeps a day's markers through the next day, when they are
// still looked at: a retry of an attempt comes within seconds of the node
// that failed (its claim's lease), so two days are ample.
const markerTTL = 2 * 24 * time.Hour

// Stream writes callback start entries to the Voice Redis.
type Stream struct {
	rdb    redis.UniversalClient
	name   string
	maxLen int64
	now    func() time.Time // the day of the markers
}

// NewStream returns the adapter for the stream name on rdb.
func NewStream(rdb redis.UniversalClient, name string) *Stream {
	return &Stream{rdb: rdb, name: name, maxLen: 100000, now: time.Now}
}

// Client exposes the Voice Redis connection (health checks).
func (s *Stream) Client() redis.UniversalClient { return s.rdb }

// Name is the stream key.
func (s *Stream) Name() string { return s.name }

// Entry is one callback start request.
type Entry struct {
	Tenant     string
	TenantName string
	Callback   *callback.Callback
	Service    *settings.Service
	GESURL     string // base URL ORS uses to reach this GES, e.g. http://ges:3050
	Attempt    int
	Now        time.Time
}

// markers is the key of a day's markers (UTC), hash-tagged with the stream
// name so that the keys of the script share a cluster slot.
func (s *Stream) markers(day time.Time) string {
	return "{" + s.name + "}:ges-sub:" + day.UTC().Format(time.DateOnly)
}

// Submit adds the entry unless this attempt was added already, and returns
// the entry's id either way. added is false for such a repeat.
func (s *Stream) Submit(ctx context.Context, e Entry) (id string, added bool, err error) {
	r := s.SubmitMany(ctx, []Entry{e})[0]
	return r.ID, r.Added, r.Err
}

// Submitted is the outcome of one entry of SubmitMany.
type Submitted struct {
	ID    string
	Added bool
	Err   error
}

// SubmitMany submits entries in one round trip (see Submit).
func (s *Stream) SubmitMany(ctx context.Context, es []Entry) []Submitted {
	return s.SubmitPrepared(ctx, s.Prepare(es))
}

// Prepared is an entry encoded for the stream, ready to be added: its
// tenant and its values in the order of the script.
type Prepared struct {
	ccid   string
	values []any
	err    error
}

// Prepare encodes entries ahead of their submission, so that a batch
// falling due costs only the round trip.
func (s *Stream) Prepare(es []Entry) []Prepared {
	out := make([]Prepared, len(es))
	for i, e := range es {
		payload, err := json.Marshal(e.payload())
		if err != nil {
			out[i].err = err
			continue
		}
		out[i] = Prepared{ccid: e.Tenant, values: []any{e.Callback.ID, strconv.Itoa(e.Attempt), string(payload)}}
	}
	return out
}

// SubmitPrepared submits prepared entries in one round trip (see Submit).
func (s *Stream) SubmitPrepared(ctx context.Context, ps []Prepared) []Submitted {
	out := make([]Submitted, len(ps))
	var valid []int // indexes of the entries to send
	for i, p := range ps {
		if p.err != nil {
			out[i].Err = p.err
			continue
		}
		valid = append(valid, i)
	}
	if len(valid) == 0 {
		return out
	}
	type call struct {
		idx []int
		cmd *redis.Cmd
	}
	today := s.now()
	keys := []string{s.markers(today), s.markers(today.AddDate(0, 0, -1)), s.name}
	var calls []call
	// A call per tenant and at most submitChunk entries.
	for start := 0; start < len(valid); {
		end := start + 1
		for end < len(valid) && end-start < submitChunk && ps[valid[end]].ccid == ps[valid[start]].ccid {
			end++
		}
		calls = append(calls, call{idx: valid[start:end]})
		start = end
	}
	// Each call keeps its own answer or error (a failed load of the
	// script, a lost connection), so Exec's summary is not needed.
	_, _ = luascript.Exec(ctx, s.rdb, []*redis.Script{submitScript}, func(pipe redis.Pipeliner) {
		for c := range calls {
			idx := calls[c].idx
			args := make([]any, 0, 3+len(idx)*3)
			args = append(args, int(markerTTL.Seconds()), s.maxLen, ps[idx[0]].ccid)
			for _, i := range idx {
				args = append(args, ps[i].values...)
			}
			calls[c].cmd = submitScript.EvalSha(ctx, pipe, keys, args...)
		}
	})
	for _, c := range calls {
		res, cerr := c.cmd.Slice()
		if cerr == nil && len(res) != 2*len(c.idx) {
			cerr = fmt.Errorf("stream submit: unexpected answer of %d items for %d entries", len(res), len(c.idx))
		}
		for k, i := range c.idx {
			if cerr != nil {
				// The script may have added some entries before it failed:
				// their markers make a retry get them back, never add twice.
				out[i].Err = cerr
				continue
			}
			n, _ := res[2*k].(int64)
			out[i].ID, _ = res[2*k+1].(string)
			out[i].Added = n == 1
		}
	}
	return out
}

// Reads tells, for the stream as it is now, whether an entry was delivered
// to ORS: an entry at or before the last one delivered to a consumer group
// was read. A stream without a group has not been read at all.
type Reads struct{ last []string }

// Reads asks the Voice Redis how far ORS has read the stream.
func (s *Stream) Reads(ctx context.Context) (Reads, error) {
	groups, err := s.rdb.XInfoGroups(ctx, s.name).Result()
	// Redis tells a stream that does not exist yet only by the text of
	// its error reply (go-redis has no type for it).
	if err != nil && !strings.Contains(err.Error(), "no such key") {
		return Reads{}, err
	}
	var r Reads
	for _, g := range groups {
		r.last = append(r.last, g.LastDeliveredID)
	}
	return r, nil
}

// Read reports whether entry id was delivered to any consumer group. An
// unknown id ("" : an attempt recorded before entry ids were kept) counts
// as read, so that it is not held back for ever.
func (r Reads) Read(id string) bool {
	if id == "" {
		return true
	}
	for _, last := range r.last {
		if compareIDs(id, last) <= 0 {
			return true
		}
	}
	return false
}

// compareIDs orders stream ids "<ms>-<seq>".
func compareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	switch {
	case am != bm:
		return cmpInt(am, bm)
	default:
		return cmpInt(as, bs)
	}
}

func splitID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	q, _ := strconv.ParseUint(seq, 10, 64)
	return m, q
}

func cmpInt(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Held reports whether a consumer of ORS holds entry id: delivered and not
// acknowledged, so a session may be working on it.
func (s *Stream) Held(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	groups, err := s.rdb.XInfoGroups(ctx, s.name).Result()
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		p, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.name, Group: g.Name, Start: id, End: id, Count: 1}).Result()
		if err != nil {
			return false, err
		}
		if len(p) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// Withdraw deletes an entry ORS has not read, so that a callback completed
// or moved meanwhile is never started from it. It reports whether the entry
// was still unread (and is now gone).
func (s *Stream) Withdraw(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	reads, err := s.Reads(ctx)
	if err != nil || reads.Read(id) {
		return false, err
	}
	n, err := s.rdb.XDel(ctx, s.name, id).Result()
	return n == 1, err
}

type application struct {
	Name string `json:"name,omitempty"`
	Src  string `json:"src,omitempty"`
}

type payload struct {
	CallbackID  string            `json:"callbackId"`
	CCID        string            `json:"ccid"`
	Tenant      string            `json:"tenant,omitempty"`
	ServiceName string            `json:"serviceName"`
	Application application       `json:"application"`
	IdealTime   int64             `json:"idealtime,omitempty"`
	Params      map[string]string `json:"params"`
	UserData    json.RawMessage   `json:"userData,omitempty"`
	CreatedAt   string            `json:"createdAt"`
}

func (e Entry) payload() payload {
	cb, svc := e.Callback, e.Service
	p := map[string]string{}
	// Service settings first, then the record: request values win, as GMS
	// merged them before starting a session.
	for k, v := range svc.Columns {
		p[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			p[k] = v
		}
	}
	set("_route_point", svc.RoutePoint)
	set("_survey_route_point", svc.SurveyRoutePoint)
	set("_prefix_dial_out", svc.DialPrefix)
	set("_calling_party_number", svc.DisplayNumber)
	set("_calling_party_display_name", svc.DisplayName)
	if svc.Priority > 0 {
		p["_urs_vq_priority"] = strconv.Itoa(svc.Priority)
	}
	for k, v := range cb.Props {
		p[k] = v
	}
	p["_id"] = cb.ID
	p["_service_name"] = cb.Service
	p["_customer_number"] = cb.Phone
	p["_desired_time"] = callback.FormatTime(cb.Desired)
	p["_expiration_time"] = callback.FormatTime(cb.Expires)
	p["_callback_state"] = string(callback.Queued)
	p["_call_direction"] = svc.CallDirection
	p["_media_type"] = "voice"
	p["_urs_virtual_queue"] = cb.Service
	p["_vq"] = cb.Service
	p["_gms_url"] = e.GESURL + "/genesys/"
	p["_url"] = e.GESURL + "/genesys/1/service/" + cb.ID
	p["_callback_update_url"] = e.GESURL + "/genesys/1/service/callback/" + pathEscape(cb.Service) + "/" + cb.ID
	if len(cb.UserData) > 0 {
		p["GMS_UserData"] = string(cb.UserData)
	}
	out := payload{
		CallbackID: cb.ID, CCID: e.Tenant, Tenant: e.TenantName, ServiceName: cb.Service,
		Application: application{Name: svc.Application},
		Params:      p, UserData: cb.UserData, CreatedAt: callback.FormatTime(e.Now),
	}
	if cb.Scheduled && cb.Desired.After(e.Now) {
		out.IdealTime = cb.Desired.UnixMilli()
	}
	return out
}
