// Package voice is GES' side of the Voice platform: the hand-off of due
// callbacks to ORS through the NewCallbackStream Redis stream. The entry
// format lives here and nowhere else, so a change of schema touches one file.
package voice

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/settings"
)

// submitScript adds the stream entry only if this attempt of this callback
// was not added before, so a node that dies after the XADD and before
// recording it cannot cause a second entry when another node retries.
// KEYS: 1 marker, 2 stream   ARGV: 1 marker TTL (s), 2 max length, then field/value pairs
var submitScript = redis.NewScript(`
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return 0 end
local args = {'XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*'}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
redis.call(unpack(args))
return 1
`)

// Stream writes callback start entries to the Voice Redis.
type Stream struct {
	rdb       redis.UniversalClient
	name      string
	markerTTL time.Duration
	maxLen    int64
}

// NewStream returns the adapter for the stream name on rdb.
func NewStream(rdb redis.UniversalClient, name string) *Stream {
	return &Stream{rdb: rdb, name: name, markerTTL: 7 * 24 * time.Hour, maxLen: 100000}
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

// marker is hash-tagged with the stream name so that both keys of the
// script share a cluster slot.
func (s *Stream) marker(e Entry) string {
	return "{" + s.name + "}:ges-sub:" + e.Tenant + ":" + e.Callback.ID + ":" + strconv.Itoa(e.Attempt)
}

// Submit adds the entry unless this attempt was added already. added is
// false for such a repeat.
func (s *Stream) Submit(ctx context.Context, e Entry) (added bool, err error) {
	payload, err := json.Marshal(e.payload())
	if err != nil {
		return false, err
	}
	args := []any{int(s.markerTTL.Seconds()), s.maxLen,
		"type", "callback.start", "version", "1", "ccid", e.Tenant, "callbackId", e.Callback.ID,
		"attempt", strconv.Itoa(e.Attempt), "payload", string(payload)}
	n, err := submitScript.Run(ctx, s.rdb, []string{s.marker(e), s.name}, args...).Int()
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
