package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/callin"
	"github.com/gesgo/ges/internal/captcha"
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/credentials"
	"github.com/gesgo/ges/internal/fault"
	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/ids"
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/numbers"
	"github.com/gesgo/ges/internal/pause"
	"github.com/gesgo/ges/internal/voice"
)

// Tenants resolves tenants (contact centers).
type Tenants interface {
	ByAPIKey(ctx context.Context, key string) (*gws.Tenant, error)
	ByID(ctx context.Context, id string) (*gws.Tenant, error)
}

// Deps are what the APIs need.
type Deps struct {
	// Clock is the time of requests and error reports (nil: clock.System).
	Clock     clock.Clock
	Callbacks *callback.Service
	Tenants   Tenants
	Metrics   *metrics.Metrics
	// ErrorLog is told about every external API error (Developer tab).
	ErrorLog func(ctx context.Context, e APIError)
	// URS and ORS answer wait estimates and queue positions; nil when the
	// platform is not configured.
	URS *voice.URS
	ORS *voice.ORS
	// Credentials holds tenants' stored secrets; CredentialChecks validate
	// a kind's JSON before it is stored.
	Credentials      *credentials.Store
	CredentialChecks map[string]func([]byte) error
	// Statistics proxies GWS Statistics; Captcha verifies CAPTCHA tokens
	// (legacy verify endpoint). Nil when not configured.
	Statistics *gws.Statistics
	Captcha    *captcha.Verifier
	// Callin lends Click-To-Call-In access numbers.
	Callin *callin.Service
	// Pauses pauses and resumes services (nil: not offered).
	Pauses *pause.Service
	// Numbers manages the permitted & blocked number rules (nil: not offered).
	Numbers *numbers.Service
	// Limits are the external API's abuse limits and CORS origins.
	Limits Limits
}

// APIError describes a failed external API request.
type APIError struct {
	CorrID  string
	Tenant  string
	Method  string
	Path    string
	Status  int
	Message string
	At      time.Time
}

type external struct {
	Deps
	limits *limiters
	api    chi.Routes // the routes under /engagement/v3, for their metric labels
}

func (d *Deps) setDefaults() {
	if d.Clock == nil {
		d.Clock = clock.System{}
	}
}

// status is the envelope's status object.
type status struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	CorrID  string `json:"corrId"`
}

type envelope struct {
	Status status `json:"status"`
	Data   any    `json:"data,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ok writes a success envelope.
func (x *external) ok(w http.ResponseWriter, r *http.Request, data any) {
	writeJSON(w, http.StatusOK, envelope{Status: status{Code: 0, Message: "Successful", CorrID: info(r.Context()).corrID}, Data: data})
}

// fail writes an error envelope: the status code mirrors the HTTP status.
func (x *external) fail(w http.ResponseWriter, r *http.Request, code int, msg string, data any) {
	ri := info(r.Context())
	writeJSON(w, code, envelope{Status: status{Code: code, Message: msg, CorrID: ri.corrID}, Data: data})
	// Only a tenant's own errors are kept (its Developer tab lists them):
	// those of callers without a valid key would be anybody's to fill.
	if x.ErrorLog != nil && ri.tenant != "" {
		x.ErrorLog(r.Context(), APIError{CorrID: ri.corrID, Tenant: ri.tenant, Method: storable(r.Method, 16), Path: storable(r.URL.Path, 512),
			Status: code, Message: storable(msg, 2048), At: x.Clock.Now().UTC()})
	}
}

// failErr maps a domain error to the external API's status and message.
func (x *external) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var de *fault.Error
	if !errors.As(err, &de) {
		slog.Error("external API error", "corrId", info(r.Context()).corrID, "err", err)
		x.fail(w, r, http.StatusInternalServerError, "Internal error", nil)
		return
	}
	if a, ok := limitAlert[de.Limit]; ok {
		x.Metrics.Alert(a)
	}
	a, ok := externalStatus[de.Kind]
	if !ok {
		a = externalStatus[fault.Unavailable]
	}
	if !a.quiet || !ok {
		slog.Error("external API error", "corrId", info(r.Context()).corrID, "err", err)
	}
	var data any // a nil map here would be written as "data":null
	switch de.Kind {
	case fault.NoCapacity:
		slots := de.Slots
		if slots == nil {
			slots = map[string]string{}
		}
		data = map[string]any{"slots": slots}
	case fault.Throttled:
		if de.RetryAfter > 0 {
			secs := strconv.Itoa(int(de.RetryAfter.Seconds() + 0.999))
			w.Header().Set("Retry-After", secs)
			w.Header().Set("RateLimit", `"service";r=0;t=`+secs)
		}
	}
	x.fail(w, r, a.status, de.Msg, data)
}

// External returns the handler of the external port.
func External(d Deps) http.Handler {
	d.setDefaults()
	x := &external{Deps: d, limits: newLimiters(d.Limits)}
	r := chi.NewRouter()
	r.Use(observe(d.Metrics, d.Clock, "", func(w http.ResponseWriter, r *http.Request) {
		x.fail(w, r, http.StatusInternalServerError, "Internal error", nil)
	}))
	r.Use(x.cors)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).path = unmatchedPath
		x.fail(w, r, http.StatusNotFound, "Not found: "+truncate(r.URL.Path, 256), nil)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).path = unmatchedPath
		x.fail(w, r, http.StatusMethodNotAllowed, "Method "+truncate(r.Method, 32)+" not allowed on "+truncate(r.URL.Path, 256), nil)
	})
	x.api = r.Route("/engagement/v3", func(r chi.Router) {
		r.Use(x.authenticate)
		r.With(x.limitCreates).Post("/callbacks/create", x.create)
		r.Post("/callbacks/retrieve", x.retrieve)
		r.Post("/callbacks/cancel", x.cancel)
		r.Get("/callbacks/availability/{name}", x.availability)
		r.Get("/callbacks/open-for/{name}", x.openFor)
		r.Get("/callbacks/queue-status/{name}", x.queueStatus)
		r.Get("/estimated-wait-time", x.estimatedWaitTime)
		r.With(x.limitCreates).Post("/call-in/requests/create", x.callinCreate)
		r.Post("/statistics/operations/get-statistic-ex", x.statistics)
		r.Get("/statistics/operations/get-statistic-ex", x.statistics)
		r.Post("/captcha/verify", x.verifyCaptcha)
	})
	return r
}

// authenticate finds the tenant from the API key. The tenant never comes
// from a header on this port: a caller could otherwise pick another's.
func (x *external) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := info(r.Context())
		ri.path = x.routeLabel(r)
		for _, h := range []string{"ccid", "ContactCenterId", "ContactCenterID"} {
			if r.Header.Get(h) != "" {
				x.fail(w, r, http.StatusBadRequest, "The "+h+" header is not accepted on this API: the API key identifies the contact center", nil)
				return
			}
		}
		key := strings.TrimSpace(r.Header.Get("x-api-key"))
		if key == "" {
			x.fail(w, r, http.StatusUnauthorized, "Invalid or missing API key", nil)
			return
		}
		addr := x.limits.client(r)
		if !x.keyAllowed(w, r, addr, key) {
			return
		}
		t, err := x.Tenants.ByAPIKey(r.Context(), key)
		if errors.Is(err, gws.ErrUnknown) {
			x.keyFailed(addr)
			x.fail(w, r, http.StatusUnauthorized, "Invalid or missing API key", nil)
			return
		}
		if err != nil {
			x.Metrics.Alert(metrics.GWSServerError)
			slog.Error("API key check failed", "corrId", ri.corrID, "err", err)
			x.fail(w, r, http.StatusServiceUnavailable, "Unable to validate the API key, try again", nil)
			return
		}
		ri.tenant = t.ID
		next.ServeHTTP(w, r)
	})
}

// routeLabel is the path label of a request under /engagement/v3: its
// route, with parameters as in the route ({name}), or "unmatched". The
// label is known before the key is checked, so a refused key counts on its
// route, and made-up paths all share one series.
func (x *external) routeLabel(r *http.Request) string {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	rest, ok := strings.CutPrefix(path, "/engagement/v3")
	if !ok || x.api == nil {
		return unmatchedPath
	}
	pattern := x.api.Find(chi.NewRouteContext(), r.Method, rest)
	if pattern == "" {
		return unmatchedPath
	}
	return "/engagement/v3" + pattern
}

// body reads and parses the JSON object of a POST.
func (x *external) body(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	b, err := readBody(r, ExternalBodyLimit)
	if errors.Is(err, errTooLarge) {
		x.Metrics.Alert(metrics.InvalidContentLength)
		x.fail(w, r, http.StatusRequestEntityTooLarge, "Request body exceeds the limit of 500 KB", nil)
		return nil, false
	}
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		// HTTP_READ_TIMEOUT passed before the body arrived (a client
		// trickling it): the connection is closed after this answer.
		x.fail(w, r, http.StatusRequestTimeout, "The request body did not arrive in time", nil)
		return nil, false
	}
	if err != nil {
		x.fail(w, r, http.StatusBadRequest, "Could not read the request body", nil)
		return nil, false
	}
	if err := requireJSON(r, b); err != nil {
		x.fail(w, r, http.StatusUnsupportedMediaType, err.Error(), nil)
		return nil, false
	}
	m, err := decodeObject(b)
	if err != nil {
		x.fail(w, r, http.StatusBadRequest, "Malformed JSON body: "+jsonProblem(err), nil)
		return nil, false
	}
	return m, true
}

func jsonProblem(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return "expected a JSON object"
	}
	return err.Error()
}

func (x *external) create(w http.ResponseWriter, r *http.Request) {
	m, ok := x.body(w, r)
	if !ok {
		return
	}
	req, err := parseCreate(m, x.Clock.Now().UTC())
	if err == nil {
		err = requirePushTargets(x.Callbacks, info(r.Context()).tenant, req)
	}
	if err != nil {
		x.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	}
	cb, err := x.Callbacks.Create(r.Context(), info(r.Context()).tenant, req)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	x.ok(w, r, map[string]string{"id": cb.ID})
}

// callbackID reads and checks the id of retrieve and cancel.
func (x *external) callbackID(w http.ResponseWriter, r *http.Request) (string, bool) {
	m, ok := x.body(w, r)
	if !ok {
		return "", false
	}
	raw, present := m["id"]
	var id string
	if !present || string(raw) == "null" {
		x.fail(w, r, http.StatusBadRequest, "id is required", nil)
		return "", false
	}
	if json.Unmarshal(raw, &id) != nil || !ids.Valid(id) {
		x.fail(w, r, http.StatusBadRequest, "Invalid id: "+truncate(string(raw), 64)+" (expected a UUID)", nil)
		return "", false
	}
	return strings.ToLower(id), true
}

// storable is s as the error log can keep it: a caller's path or text
// may hold NUL or bytes that are not UTF-8, which Postgres refuses (the
// entry would be lost). It is cut to at most n bytes on a character.
func storable(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// callbackView is the Callback model of the Engagement API.
type callbackView struct {
	ID              string `json:"id"`
	DesiredTime     string `json:"desiredTime"`
	CallbackState   string `json:"callbackState"`
	CallbackReason  string `json:"callbackReason,omitempty"`
	PhoneNumber     string `json:"phoneNumber"`
	PositionInQueue *int   `json:"positionInQueue,omitempty"`
	EstimatedWait   *int   `json:"estimatedWaitTime,omitempty"`
}

func viewOf(cb *callback.Callback) callbackView {
	v := callbackView{ID: cb.ID, DesiredTime: callback.FormatTime(cb.Desired), CallbackState: string(cb.Shown()), PhoneNumber: cb.Phone}
	if cb.State.Final() {
		v.CallbackReason = cb.Reason
	}
	if cb.State.InQueue() {
		pos, ewt := cb.Position, cb.EWT
		if pos <= 0 {
			pos = -1
		}
		v.PositionInQueue, v.EstimatedWait = &pos, &ewt
	}
	return v
}

func (x *external) retrieve(w http.ResponseWriter, r *http.Request) {
	id, ok := x.callbackID(w, r)
	if !ok {
		return
	}
	cb, err := x.Callbacks.Get(r.Context(), info(r.Context()).tenant, id)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	x.livePosition(r.Context(), cb)
	x.ok(w, r, viewOf(cb))
}

func (x *external) cancel(w http.ResponseWriter, r *http.Request) {
	id, ok := x.callbackID(w, r)
	if !ok {
		return
	}
	if _, err := x.Callbacks.Cancel(r.Context(), info(r.Context()).tenant, id, callback.ReasonCancelled, "api", true); err != nil {
		x.failErr(w, r, err)
		return
	}
	x.ok(w, r, map[string]string{"id": id})
}
