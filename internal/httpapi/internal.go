package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/api"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/fault"
	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/health"
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/principal"
	"github.com/gesgo/ges/internal/settings"
)

// GMS exception classes, as clients of the GMS API know them.
const (
	excPrefix      = "com.genesyslab.gsg.services.callback.exceptions."
	excNotFound    = excPrefix + "CallbackExceptionNotFound"
	excInvalid     = excPrefix + "CallbackExceptionInvalidParameter"
	excState       = excPrefix + "CallbackExceptionInvalidState"
	excUnavailable = excPrefix + "CallbackExceptionServiceUnavailable"
	excCapacity    = excPrefix + "CallbackExceptionCapacity"
	excInternal    = "com.genesyslab.gsg.GSGException"
)

// Publisher applies published data tables.
type Publisher interface {
	Publish(ctx context.Context, tenant, table string, rows []settings.Row) (*settings.Table, error)
	Table(tenant string) *settings.Table
}

// InternalDeps are what the internal port needs beyond Deps.
type InternalDeps struct {
	Deps
	Publisher Publisher
	Health    *health.Checker
	// BaseURL is how ORS reaches this GES (the _url of records).
	BaseURL string
	// Extra mounts more handlers (the UI) on the internal router.
	Extra func(r chi.Router)
	// FaultInjection enables POST /ges/v1/debug/panic.
	FaultInjection bool
	// Admins authenticates the callers of the admin APIs under /ges/v1
	// (nil: every such call is 401).
	Admins *principal.Authenticator
}

type internal struct{ InternalDeps }

// gmsError is the GMS error envelope.
type gmsError struct {
	Exception string `json:"exception"`
	Message   string `json:"message"`
}

func (x *internal) fail(w http.ResponseWriter, code int, exc, msg string) {
	writeJSON(w, code, gmsError{Exception: exc, Message: msg})
}

func (x *internal) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var de *fault.Error
	if !errors.As(err, &de) {
		slog.Error("internal API error", "corrId", info(r.Context()).corrID, "err", err)
		x.fail(w, http.StatusInternalServerError, excInternal, "Internal error")
		return
	}
	if a, ok := limitAlert[de.Limit]; ok {
		x.Metrics.Alert(a)
	}
	a, ok := gmsStatus[de.Kind]
	if !ok {
		a = gmsStatus[fault.Unavailable]
	}
	if !a.quiet || !ok {
		slog.Error("internal API error", "corrId", info(r.Context()).corrID, "err", err)
	}
	if de.Kind == fault.NoCapacity {
		writeJSON(w, a.status, map[string]any{"exception": a.exception, "message": de.Msg, "availability": de.Slots})
		return
	}
	x.fail(w, a.status, a.exception, de.Msg)
}

// Internal returns the handler of the internal port (3050).
func Internal(d InternalDeps) http.Handler {
	d.setDefaults()
	x := &internal{d}
	r := chi.NewRouter()
	r.Use(observe(d.Metrics, d.Clock, metrics.PrivatePath, func(w http.ResponseWriter, r *http.Request) {
		x.fail(w, http.StatusInternalServerError, excInternal, "Internal error")
	}))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).path = unmatchedPath
		x.fail(w, http.StatusNotFound, excInternal, "Not found: "+truncate(r.URL.Path, 256))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).path = unmatchedPath
		x.fail(w, http.StatusMethodNotAllowed, excInternal, "Method "+truncate(r.Method, 32)+" not allowed on "+truncate(r.URL.Path, 256))
	})
	r.Handle("/metrics", d.Metrics.Handler())
	r.Get("/ges/v1/health/live", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "UP"}) })
	r.Get("/ges/v1/health/ready", x.ready)
	r.Get("/ges/v1/health/detail", x.detail)
	r.Get("/ges/v1/openapi/{doc}", openAPI)
	apiDocsRoutes(r)
	if d.FaultInjection {
		r.Post("/ges/v1/debug/panic", func(http.ResponseWriter, *http.Request) { panic("fault injection: /ges/v1/debug/panic") })
	}
	// The GMS API: the tenant is the ContactCenterId header, as shared
	// GMS does (ORS sends it); this port is never routed from outside.
	r.Group(func(r chi.Router) {
		r.Use(x.tenant)
		r.Get("/genesys/1/service/callback", x.query)
		r.Post("/genesys/1/service/callback/{svc}", x.create)
		r.Get("/genesys/1/service/callback/{svc}", x.query)
		r.Get("/genesys/1/service/callback/{svc}/availability", x.availability)
		r.Put("/genesys/1/service/callback/{svc}/{id}", x.update)
		r.Post("/genesys/1/service/callback/{svc}/{id}", x.update)
		r.Delete("/genesys/1/service/callback/{svc}/{id}", x.cancel)
		r.Get("/genesys/1/service/callback/{svc}/{id}", x.getOne)
		r.Get("/genesys/1/service/{id}/check-queue-position", x.checkQueuePosition)
		r.Post("/genesys/1/service/{id}/check-queue-position", x.checkQueuePosition)
		r.Get("/genesys/1/admin/callback/watermarks", x.watermarks)
		r.Get("/genesys/1/admin/callback/queues", x.queues)
		r.Post("/genesys/1/admin/callback/cancel", x.bulkCancel)
		x.callinRoutes(r)
	})
	// The admin APIs: a principal first (UI session or service token),
	// whose tenant they act on.
	r.With(x.admin(principal.PublishTables)).Put("/ges/v1/datatables/{table}", x.publish)
	r.With(x.admin(principal.PublishTables)).Post("/ges/v1/datatables/{table}", x.publish)
	r.With(x.admin(principal.ReadTables)).Get("/ges/v1/datatables/{table}", x.table)
	r.With(x.admin(principal.ReadSessions)).Get("/ges/v1/callbacks/{id}/session", x.session)
	r.With(x.admin(principal.ManageCredentials)).Put("/ges/v1/credentials/{kind}", x.putCredentials)
	r.With(x.admin(principal.ManageCredentials)).Get("/ges/v1/credentials/{kind}", x.getCredentials)
	r.With(x.admin(principal.ManageCredentials)).Delete("/ges/v1/credentials/{kind}", x.deleteCredentials)
	x.callinAdminRoutes(r)
	r.With(x.admin(principal.ReadPauses)).Get("/ges/v1/services/paused", x.listPaused)
	r.With(x.admin(principal.ManagePauses)).Put("/ges/v1/services/{service}/pause", x.pause)
	r.With(x.admin(principal.ManagePauses)).Delete("/ges/v1/services/{service}/pause", x.resume)
	x.numberRoutes(r)
	if d.Extra != nil {
		d.Extra(r)
	}
	return r
}

func (x *internal) ready(w http.ResponseWriter, r *http.Request) {
	if x.Health.Ready() {
		writeJSON(w, http.StatusOK, map[string]string{"status": "UP"})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "DOWN"})
}

func (x *internal) detail(w http.ResponseWriter, r *http.Request) {
	d := x.Health.Detail()
	code := http.StatusOK
	if d.Status != "UP" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, d)
}

type tenantKey struct{}

func tenantOf(r *http.Request) *gws.Tenant { return r.Context().Value(tenantKey{}).(*gws.Tenant) }

// tenantHeader is the contact center a request names, as shared GMS
// clients name it.
func tenantHeader(r *http.Request) string {
	if ccid := strings.TrimSpace(r.Header.Get("ContactCenterId")); ccid != "" {
		return ccid
	}
	return strings.TrimSpace(r.Header.Get("x-ccid"))
}

// tenant takes the tenant from the ContactCenterId header, as shared GMS
// does, and checks it with GWS Environment.
func (x *internal) tenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x.serveTenant(w, r, tenantHeader(r), next)
	})
}

// admin authenticates a call of an admin API (principal) before anything
// else: a UI session acts on its own tenant, a service token on the one
// the request names. The header alone never decides.
func (x *internal) admin(act principal.Action) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			p, err := x.Admins.Authenticate(r, act)
			switch {
			case errors.Is(err, principal.ErrUnauthenticated):
				w.Header().Set("WWW-Authenticate", `Bearer realm="ges"`)
				x.fail(w, http.StatusUnauthorized, excInternal, "Authentication required: a Callback UI session (cookie ges_session) or a service token (Authorization: Bearer)")
				return
			case errors.Is(err, principal.ErrForbidden):
				x.fail(w, http.StatusForbidden, excInternal, "Not allowed for this session or token")
				return
			case err != nil:
				slog.Error("admin API: session store failed", "corrId", info(r.Context()).corrID, "err", err)
				x.fail(w, http.StatusServiceUnavailable, excUnavailable, "Session storage is unavailable, try again")
				return
			}
			info(r.Context()).actor = p.Name
			named := tenantHeader(r)
			ccid := named
			if !p.Service {
				ccid = p.Tenant
				if ccid == "" {
					x.fail(w, http.StatusBadRequest, excNotFound, "The session works on no contact center: pick one in the Callback UI")
					return
				}
				if named != "" && !strings.EqualFold(named, ccid) {
					x.fail(w, http.StatusBadRequest, excNotFound, "The ContactCenterId header names another contact center than the session works on")
					return
				}
			}
			x.serveTenant(w, r, ccid, next)
		})
	}
}

// serveTenant checks ccid with GWS Environment and serves next for it.
func (x *internal) serveTenant(w http.ResponseWriter, r *http.Request, ccid string, next http.Handler) {
	if ccid == "" {
		x.fail(w, http.StatusBadRequest, excNotFound, "The ContactCenterId header is required")
		return
	}
	t, err := x.Tenants.ByID(r.Context(), ccid)
	if errors.Is(err, gws.ErrUnknown) {
		// The GMS text, which GMS clients and test suites match on.
		x.fail(w, http.StatusBadRequest, excNotFound, "Callback Contact Center ID: "+truncate(ccid, 64)+" is not configured in transaction list.")
		return
	}
	if err != nil {
		x.Metrics.Alert(metrics.GWSServerError)
		x.fail(w, http.StatusServiceUnavailable, excUnavailable, "Unable to check the contact center, try again")
		return
	}
	info(r.Context()).tenant = t.ID
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey{}, t)))
}

// param returns a decoded path parameter. Routing runs on the escaped
// path, so a name may hold an encoded "/".
func param(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}

func (x *internal) body(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	b, err := readBody(r, InternalBodyLimit)
	if errors.Is(err, errTooLarge) {
		x.Metrics.Alert(metrics.InvalidContentLength)
		x.fail(w, http.StatusRequestEntityTooLarge, excInvalid, "Request body exceeds the limit of 10 MB")
		return nil, false
	}
	if err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, "Could not read the request body")
		return nil, false
	}
	kv, err := flatBody(r, b)
	var mt *errMediaType
	if errors.As(err, &mt) {
		x.fail(w, http.StatusUnsupportedMediaType, excInvalid, mt.Error())
		return nil, false
	}
	if err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, "Malformed request body: "+jsonProblem(err))
		return nil, false
	}
	return kv, true
}

// record renders a callback as GMS keys.
func (x *internal) record(cb *callback.Callback) map[string]string {
	m := callback.Keys(cb)
	m["_url"] = x.BaseURL + "/genesys/1/service/" + cb.ID
	return m
}

func (x *internal) create(w http.ResponseWriter, r *http.Request) {
	kv, ok := x.body(w, r)
	if !ok {
		return
	}
	req := callback.CreateRequest{Service: param(r, "svc"), Phone: kv[callback.KeyCustomerNumber], Props: map[string]string{}, Source: "internal-api"}
	if req.Phone == "" {
		x.fail(w, http.StatusBadRequest, excInvalid, "Mandatory lookup key _customer_number is missing")
		return
	}
	if s := kv[callback.KeyDesiredTime]; s != "" {
		t, ok := callback.ParseTime(s)
		if !ok {
			x.fail(w, http.StatusBadRequest, excInvalid, "Invalid _desired_time: "+s)
			return
		}
		req.Desired = t
	}
	user := map[string]string{}
	for k, v := range kv {
		switch {
		case k == callback.KeyCustomerNumber || k == callback.KeyDesiredTime || k == callback.KeyServiceName ||
			k == callback.KeyState || k == callback.KeyID:
		case strings.HasPrefix(k, "_"):
			req.Props[k] = v
		case v != "":
			user[k] = v
		}
	}
	if len(user) > 0 {
		req.UserData, _ = json.Marshal(user)
	}
	cb, err := x.Callbacks.Create(r.Context(), tenantOf(r).ID, req)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	text := "You will receive the call shortly"
	if cb.Scheduled {
		text = "Your callback is scheduled for " + callback.FormatTime(cb.Desired)
	}
	writeJSON(w, http.StatusOK, map[string]string{"_id": cb.ID, "_action": "ConfirmationDialog", "_dialog_id": "0", "_text": text, "_ok_title": "Ok"})
}

func (x *internal) update(w http.ResponseWriter, r *http.Request) {
	kv, ok := x.body(w, r)
	if !ok {
		return
	}
	cb, err := x.Callbacks.Report(r.Context(), tenantOf(r).ID, param(r, "svc"), param(r, "id"), "internal-api", kv)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, x.record(cb))
}

func (x *internal) cancel(w http.ResponseWriter, r *http.Request) {
	svc, id := param(r, "svc"), param(r, "id")
	cur, err := x.Callbacks.Get(r.Context(), tenantOf(r).ID, id)
	if err == nil && cur.Service != svc {
		err = callback.ErrNotFound
	}
	if err == nil {
		cur, err = x.Callbacks.Cancel(r.Context(), tenantOf(r).ID, id, callback.ReasonCancelled, "internal-api", false)
	}
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, x.record(cur))
}

func (x *internal) getOne(w http.ResponseWriter, r *http.Request) {
	cb, err := x.Callbacks.Get(r.Context(), tenantOf(r).ID, param(r, "id"))
	if err == nil && cb.Service != param(r, "svc") {
		err = callback.ErrNotFound
	}
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, x.record(cb))
}

// query answers a query by properties: every parameter but operand is a
// filter; a leading ! negates it.
func (x *internal) query(w http.ResponseWriter, r *http.Request) {
	q := callback.Query{Service: param(r, "svc")}
	for k, vs := range r.URL.Query() {
		switch k {
		case "operand":
			q.Or = strings.EqualFold(vs[0], "OR")
		case "_":
		default:
			for _, v := range vs {
				q.Filters = append(q.Filters, callback.ParseFilter(k, v))
			}
		}
	}
	tenant := tenantOf(r).ID
	var list []*callback.Callback
	if id := r.URL.Query().Get(callback.KeyID); id != "" && len(q.Filters) == 1 {
		cb, err := x.Callbacks.Get(r.Context(), tenant, id)
		if err != nil && callback.KindOf(err) != callback.KindNotFound {
			x.failErr(w, r, err)
			return
		}
		if cb != nil && q.Match(cb) {
			list = append(list, cb)
		}
	} else {
		var err error
		if list, err = x.Callbacks.Query(r.Context(), tenant, q); err != nil {
			x.failErr(w, r, err)
			return
		}
	}
	out := make([]map[string]string, 0, len(list))
	for _, cb := range list {
		out = append(out, x.record(cb))
	}
	writeJSON(w, http.StatusOK, out)
}

// publishBody is what Designer sends when a data table is published.
type publishBody struct {
	Table string         `json:"table"`
	Rows  []settings.Row `json:"rows"`
}

func (x *internal) publish(w http.ResponseWriter, r *http.Request) {
	name := param(r, "table")
	b, err := readBody(r, InternalBodyLimit)
	if errors.Is(err, errTooLarge) {
		x.Metrics.Alert(metrics.InvalidContentLength)
		x.fail(w, http.StatusRequestEntityTooLarge, excInvalid, "Request body exceeds the limit of 10 MB")
		return
	}
	var body publishBody
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err == nil {
		err = checkRawJSON(b)
	}
	if err == nil {
		err = d.Decode(&body)
	}
	if err == nil {
		err = checkRowsText(body.Rows)
	}
	if err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, "Malformed data table: "+jsonProblem(err))
		return
	}
	if body.Table != "" && body.Table != name {
		x.fail(w, http.StatusBadRequest, excInvalid, "The body names table "+body.Table+" but the path names "+name)
		return
	}
	t, err := x.Publisher.Publish(r.Context(), tenantOf(r).ID, name, body.Rows)
	var ve *settings.ValidationError
	var ue *settings.UnknownTableError
	switch {
	case errors.As(err, &ve):
		x.fail(w, http.StatusBadRequest, excInvalid, "Data table "+name+" refused: "+ve.Error())
		return
	case errors.As(err, &ue):
		x.fail(w, http.StatusBadRequest, excInvalid, err.Error())
		return
	case err != nil:
		slog.Error("data table publish failed", "err", err)
		x.fail(w, http.StatusServiceUnavailable, excUnavailable, "Data table storage is unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"table": t.Name, "version": t.Version, "services": t.Names()})
}

func (x *internal) table(w http.ResponseWriter, r *http.Request) {
	t := x.Publisher.Table(tenantOf(r).ID)
	if t == nil || t.Name != param(r, "table") {
		x.fail(w, http.StatusNotFound, excNotFound, "No "+param(r, "table")+" table was published for this contact center")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"table": t.Name, "version": t.Version, "rows": t.Rows})
}

// openAPI serves the OpenAPI documents of both ports.
func openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := api.FS.ReadFile(chi.URLParam(r, "doc"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, gmsError{Exception: excNotFound, Message: "No such document; try external.yaml or internal.yaml"})
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(b)
}
