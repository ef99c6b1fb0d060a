package ui

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/callback"
)

// PageSize is the number of callbacks per grid page.
const PageSize = 250

// The reschedule panel lists up to maxSlots slots from slotsBefore the
// desired time (or now) over slotsSpan.
const (
	slotsBefore = 4 * time.Hour
	slotsSpan   = 24 * time.Hour
	maxSlots    = 48
)

// exportLimit bounds one CSV export.
const exportLimit = 50000

// column is a standard grid column.
type column struct{ ID, Label string }

var columns = []column{
	{"service", "Service Name"}, {"phone", "Phone Number"}, {"state", "State"},
	{"desired", "Desired Time (UTC)"}, {"created", "Created (UTC)"}, {"updated", "Updated (UTC)"},
	{"position", "Position"}, {"ewt", "EWT (s)"}, {"attempt", "Attempts"},
}

var defaultColumns = []string{"service", "phone", "state", "desired", "created"}

var states = []callback.State{callback.Scheduled, callback.Queued, callback.Routing, callback.Processing, callback.Completed}

// gridFilter is the grid's query: filters, page and chosen columns.
type gridFilter struct {
	Service, State, From, To, Phone string
	Page                            int
	Cols                            []string
	UD                              []string
	Live                            bool
	from, to                        *time.Time
}

func parseFilter(q url.Values) (gridFilter, error) {
	f := gridFilter{Service: q.Get("service"), State: strings.ToUpper(q.Get("state")), From: q.Get("from"), To: q.Get("to"),
		Phone: strings.TrimSpace(q.Get("phone")), Live: q.Get("live") != ""}
	f.Page, _ = strconv.Atoi(q.Get("page"))
	f.Page = max(f.Page, 1)
	for _, c := range q["cols"] {
		if slices.ContainsFunc(columns, func(k column) bool { return k.ID == c }) && !slices.Contains(f.Cols, c) {
			f.Cols = append(f.Cols, c)
		}
	}
	if len(f.Cols) == 0 {
		f.Cols = defaultColumns
	}
	for _, k := range strings.Split(q.Get("ud"), ",") {
		if k = strings.TrimSpace(k); k != "" && !slices.Contains(f.UD, k) && len(f.UD) < 20 {
			f.UD = append(f.UD, k)
		}
	}
	if f.State != "" && !slices.Contains(states, callback.State(f.State)) {
		return f, fmt.Errorf("unknown state %s", f.State)
	}
	for _, p := range []struct {
		s   string
		dst **time.Time
	}{{f.From, &f.from}, {f.To, &f.to}} {
		if p.s == "" {
			continue
		}
		t, ok := callback.ParseTime(p.s)
		if !ok {
			return f, fmt.Errorf("unreadable time %q", p.s)
		}
		*p.dst = &t
	}
	return f, nil
}

// Values is the filter as a query, on page p.
func (f gridFilter) Values(p int) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"service": f.Service, "state": f.State, "from": f.From, "to": f.To, "phone": f.Phone} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if p > 1 {
		v.Set("page", strconv.Itoa(p))
	}
	if !slices.Equal(f.Cols, defaultColumns) {
		v["cols"] = f.Cols
	}
	if len(f.UD) > 0 {
		v.Set("ud", strings.Join(f.UD, ","))
	}
	if f.Live {
		v.Set("live", "1")
	}
	return v
}

// URL is the grid's address on page p.
func (f gridFilter) URL(p int) string {
	if q := f.Values(p).Encode(); q != "" {
		return "/ges/callbacks?" + q
	}
	return "/ges/callbacks"
}

// ExportURL is the CSV export of the same filter.
func (f gridFilter) ExportURL() string {
	v := f.Values(1)
	v.Del("live")
	return "/ges/callbacks/export.csv?" + v.Encode()
}

// GridQuery selects the callbacks of the grid and the export. Empty fields
// do not narrow, except Services: none selects nothing.
type GridQuery struct {
	Services []string
	State    string
	// From and To bound the desired time: From <= t < To.
	From, To *time.Time
	// Phone is a part of the number.
	Phone string
}

// Grid finds the callbacks of the grid and the export (pgstore.UIGrid).
type Grid interface {
	// Find returns the ids of a page of matching callbacks, newest desired
	// time first, and how many match in all.
	Find(ctx context.Context, tenant string, q GridQuery, offset, limit int) (ids []string, total int, err error)
}

// findIDs selects the ids of a page of matching callbacks among the
// services the user may see, newest desired time first, and the total
// count.
func (u *UI) findIDs(ctx context.Context, tenant string, services []string, f gridFilter, offset, limit int) ([]string, int, error) {
	if f.Service != "" {
		if !slices.Contains(services, f.Service) {
			return nil, 0, nil
		}
		services = []string{f.Service}
	}
	if len(services) == 0 {
		return nil, 0, nil
	}
	return u.d.Grid.Find(ctx, tenant, GridQuery{Services: services, State: f.State, From: f.from, To: f.to, Phone: f.Phone}, offset, limit)
}

// load reads the current records (live state from Redis, else Postgres).
func (u *UI) load(ctx context.Context, tenant string, ids []string) []*callback.Callback {
	out := make([]*callback.Callback, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			cb, err := u.d.Callbacks.Get(ctx, tenant, id)
			if err == nil {
				out[i] = cb
			}
		}()
	}
	wg.Wait()
	return slices.DeleteFunc(out, func(cb *callback.Callback) bool { return cb == nil })
}

// gridRow is one callback as the grid shows it.
type gridRow struct {
	ID          string
	Cells       []string
	Cancellable bool
}

func cancellable(cb *callback.Callback) bool {
	return !cb.State.Final() && cb.State != callback.Processing
}

func stateText(cb *callback.Callback) string {
	if cb.State.Final() && cb.Reason != "" {
		return string(cb.State) + " (" + cb.Reason + ")"
	}
	return string(cb.Shown())
}

// cells renders a callback's chosen columns as text.
func cells(cb *callback.Callback, cols, ud []string, mask bool) []string {
	keys := callback.Keys(cb)
	phone := cb.Phone
	if mask {
		phone = maskPhone(phone)
	}
	var out []string
	for _, c := range cols {
		var v string
		switch c {
		case "service":
			v = cb.Service
		case "phone":
			v = phone
		case "state":
			v = stateText(cb)
		case "desired":
			v = cb.Desired.UTC().Format(uiTime)
		case "created":
			v = cb.Created.UTC().Format(uiTime)
		case "updated":
			v = cb.Updated.UTC().Format(uiTime)
		case "position":
			if cb.Position > 0 {
				v = strconv.Itoa(cb.Position)
			}
		case "ewt":
			if cb.EWT >= 0 {
				v = strconv.Itoa(cb.EWT)
			}
		case "attempt":
			v = strconv.Itoa(cb.Attempt)
		}
		out = append(out, v)
	}
	for _, k := range ud {
		v := keys[k]
		if mask && k == callback.KeyCustomerNumber {
			v = phone
		}
		out = append(out, v)
	}
	return out
}

func (u *UI) masked(sess *Session) bool { return !Can(sess.Roles, ChangeCallbacks) }

func (u *UI) callbacksPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		u.fail(w, r, http.StatusBadRequest, "Filter: "+err.Error())
		return
	}
	mask := u.masked(sess)
	if mask {
		// Searching by number would let a viewer confirm numbers it may
		// not see.
		f.Phone = ""
	}
	services := u.services(r.Context(), sess)
	ids, total, err := u.findIDs(r.Context(), sess.Tenant, services, f, (f.Page-1)*PageSize, PageSize)
	if err != nil {
		slog.Error("UI callback grid failed", "err", err)
		u.fail(w, r, http.StatusServiceUnavailable, "Callback storage is unavailable, try again.")
		return
	}
	var rows []gridRow
	for _, cb := range u.load(r.Context(), sess.Tenant, ids) {
		rows = append(rows, gridRow{ID: cb.ID, Cells: cells(cb, f.Cols, f.UD, mask), Cancellable: cancellable(cb)})
	}
	var header []string
	for _, c := range f.Cols {
		for _, k := range columns {
			if k.ID == c {
				header = append(header, k.Label)
			}
		}
	}
	header = append(header, f.UD...)
	pages := max((total+PageSize-1)/PageSize, 1)
	u.render(w, r, http.StatusOK, "callbacks", sess, map[string]any{
		"Filter": f, "Rows": rows, "Header": header, "Total": total, "Pages": pages, "Services": services,
		"States": states, "Columns": columns, "Masked": mask,
		"Prev": f.URL(f.Page - 1), "Next": f.URL(f.Page + 1), "HasPrev": f.Page > 1, "HasNext": f.Page < pages,
		"Now": u.d.Clock.Now().UTC(),
	})
}

func (u *UI) exportCSV(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		u.fail(w, r, http.StatusBadRequest, "Filter: "+err.Error())
		return
	}
	ids, _, err := u.findIDs(r.Context(), sess.Tenant, u.services(r.Context(), sess), f, 0, exportLimit)
	if err != nil {
		slog.Error("UI export failed", "err", err)
		u.fail(w, r, http.StatusServiceUnavailable, "Callback storage is unavailable, try again.")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="callbacks-%s.csv"`, u.d.Clock.Now().UTC().Format("20060102-150405")))
	cw := csv.NewWriter(w)
	head := []string{"id", "service", "phone", "state", "reason", "desiredTime", "created", "updated"}
	_ = cw.Write(append(head, f.UD...))
	for start := 0; start < len(ids); start += PageSize {
		for _, cb := range u.load(r.Context(), sess.Tenant, ids[start:min(start+PageSize, len(ids))]) {
			keys := callback.Keys(cb)
			rec := []string{cb.ID, cb.Service, cb.Phone, string(cb.State), cb.Reason, callback.FormatTime(cb.Desired),
				callback.FormatTime(cb.Created), callback.FormatTime(cb.Updated)}
			for _, k := range f.UD {
				rec = append(rec, keys[k])
			}
			for i := range rec {
				rec[i] = csvSafe(rec[i])
			}
			_ = cw.Write(rec)
		}
	}
	cw.Flush()
}

// csvSafe keeps a spreadsheet from running a cell as a formula. A signed
// number (a phone number in E.164) is no formula and stays as it is.
func csvSafe(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return s
	}
	if (s[0] == '+' || s[0] == '-') && len(s) > 1 && strings.Trim(s[1:], "0123456789 ()-.") == "" {
		return s
	}
	return "'" + s
}

// formTime reads a time from a form: RFC 3339, or a datetime-local value
// (read as UTC).
func formTime(s string) (time.Time, bool) { return callback.ParseTime(s) }

func (u *UI) createCallback(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	service, phone := r.PostFormValue("service"), strings.TrimSpace(r.PostFormValue("phone"))
	if !u.canSee(r.Context(), sess, service) {
		u.forbidden(w, r, sess, "You may not book callbacks for this service.")
		return
	}
	req := callback.CreateRequest{Service: service, Phone: phone, Source: "ui"}
	if s := strings.TrimSpace(r.PostFormValue("desired")); s != "" {
		t, ok := formTime(s)
		if !ok {
			u.flash(w, r, "error", "Unreadable desired time: "+s, "/ges/callbacks")
			return
		}
		req.Desired = t
		req.AlwaysCheckCapacity = true
	}
	if s := strings.TrimSpace(r.PostFormValue("userData")); s != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
			u.flash(w, r, "error", "User data must be a JSON object.", "/ges/callbacks")
			return
		}
		req.UserData = json.RawMessage(s)
	}
	cb, err := u.d.Callbacks.Create(r.Context(), sess.Tenant, req)
	if err != nil {
		u.flash(w, r, "error", "Not booked: "+describe(err), "/ges/callbacks")
		return
	}
	slog.Info("UI created a callback", "user", sess.User, "tenant", sess.Tenant, "id", cb.ID)
	u.flash(w, r, "ok", "Callback "+cb.ID+" booked for "+cb.Desired.UTC().Format(uiTime)+" UTC.", "/ges/callbacks/"+cb.ID)
}

// describe turns a domain error into a sentence for the page, with the
// free slots a full one came back with.
func describe(err error) string {
	var de *callback.Error
	if !errors.As(err, &de) {
		slog.Error("UI action failed", "err", err)
		return "internal error"
	}
	msg := de.Msg
	if de.Kind == callback.KindNoCapacity && len(de.Slots) > 0 {
		var free []string
		for t, n := range de.Slots {
			free = append(free, t+" ("+n+" free)")
		}
		sort.Strings(free)
		msg += ". Free slots: " + strings.Join(free, ", ")
	}
	return msg
}

// visibleCallback loads a callback the user may see, or answers 404.
func (u *UI) visibleCallback(w http.ResponseWriter, r *http.Request) (*callback.Callback, bool) {
	sess := sessionOf(r)
	cb, err := u.d.Callbacks.Get(r.Context(), sess.Tenant, chi.URLParam(r, "id"))
	if err != nil || !u.canSee(r.Context(), sess, cb.Service) {
		if err != nil && !errors.Is(err, callback.ErrNotFound) {
			u.fail(w, r, http.StatusServiceUnavailable, "Callback storage is unavailable, try again.")
			return nil, false
		}
		u.fail(w, r, http.StatusNotFound, "No such callback.")
		return nil, false
	}
	return cb, true
}

type kv struct{ Key, Value string }

func (u *UI) callbackPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	cb, ok := u.visibleCallback(w, r)
	if !ok {
		return
	}
	mask := u.masked(sess)
	phone := cb.Phone
	if mask {
		phone = maskPhone(phone)
	}
	var ud []kv
	var obj map[string]any
	if len(cb.UserData) > 0 && json.Unmarshal(cb.UserData, &obj) == nil {
		for k, v := range obj {
			s, isStr := v.(string)
			if !isStr {
				b, _ := json.Marshal(v)
				s = string(b)
			}
			ud = append(ud, kv{k, s})
		}
	}
	sort.Slice(ud, func(i, j int) bool { return ud[i].Key < ud[j].Key })
	var props []kv
	for k, v := range cb.Props {
		if mask && k == callback.KeyCustomerNumber {
			v = phone
		}
		props = append(props, kv{k, v})
	}
	sort.Slice(props, func(i, j int) bool { return props[i].Key < props[j].Key })
	var history []callback.Event
	if u.d.History != nil {
		if h, err := u.d.History(r.Context(), sess.Tenant, cb.ID); err == nil {
			history = h
		} else {
			slog.Warn("UI: callback history failed", "err", err)
		}
	}
	data := map[string]any{"CB": cb, "Phone": phone, "State": stateText(cb), "UserData": ud, "Props": props,
		"History": history, "Cancellable": cancellable(cb), "Reschedulable": cancellable(cb)}
	if svc, ok := u.d.Settings.Service(sess.Tenant, cb.Service); ok && svc.Location != nil && svc.TimeZone != "UTC" {
		// Agents talk with customers in the service's time zone.
		data["Zone"] = svc.Location
	}
	if Can(sess.Roles, ChangeCallbacks) && cancellable(cb) {
		if svc, ok := u.d.Settings.Service(sess.Tenant, cb.Service); ok {
			// Slots around the current desired time: where a customer on
			// the phone usually wants to move it.
			from := cb.Desired.Add(-slotsBefore)
			if now := u.d.Clock.Now(); from.Before(now) {
				from = now
			}
			if slots, err := u.d.Callbacks.Availability(r.Context(), sess.Tenant, svc, from, from.Add(slotsSpan)); err == nil {
				if len(slots) > maxSlots {
					slots = slots[:maxSlots]
				}
				data["Slots"] = slots
			}
		}
	}
	u.render(w, r, http.StatusOK, "callback", sess, data)
}

func (u *UI) cancelCallback(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	cb, ok := u.visibleCallback(w, r)
	if !ok {
		return
	}
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, "/ges/") || strings.HasPrefix(back, "//") {
		back = "/ges/callbacks/" + cb.ID
	}
	if _, err := u.d.Callbacks.Cancel(r.Context(), sess.Tenant, cb.ID, callback.ReasonCancelled, "ui", true); err != nil {
		u.flash(w, r, "error", "Not cancelled: "+describe(err), back)
		return
	}
	slog.Info("UI cancelled a callback", "user", sess.User, "tenant", sess.Tenant, "id", cb.ID)
	u.flash(w, r, "ok", "Callback "+cb.ID+" cancelled.", back)
}

func (u *UI) bulkCancel(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	_ = r.ParseForm()
	ids := r.PostForm["id"]
	if len(ids) > PageSize {
		u.fail(w, r, http.StatusBadRequest, fmt.Sprintf("At most %d callbacks at once.", PageSize))
		return
	}
	done, failed := 0, 0
	for _, cb := range u.load(r.Context(), sess.Tenant, ids) {
		if !u.canSee(r.Context(), sess, cb.Service) {
			failed++
			continue
		}
		if _, err := u.d.Callbacks.Cancel(r.Context(), sess.Tenant, cb.ID, callback.ReasonCancelled, "ui", true); err != nil {
			failed++
			continue
		}
		done++
	}
	failed += len(ids) - done - failed
	kind := "ok"
	if failed > 0 {
		kind = "error"
	}
	slog.Info("UI bulk cancel", "user", sess.User, "tenant", sess.Tenant, "cancelled", done, "failed", failed)
	u.flash(w, r, kind, fmt.Sprintf("%d callbacks cancelled, %d not cancelled (not found, hidden, or no longer cancellable).", done, failed), "/ges/callbacks")
}

func (u *UI) rescheduleCallback(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	cb, ok := u.visibleCallback(w, r)
	if !ok {
		return
	}
	t, ok := formTime(r.PostFormValue("desired"))
	if !ok {
		u.flash(w, r, "error", "Unreadable desired time.", "/ges/callbacks/"+cb.ID)
		return
	}
	if _, err := u.d.Callbacks.Report(r.Context(), sess.Tenant, cb.Service, cb.ID, "ui",
		map[string]string{callback.KeyNewDesiredTime: callback.FormatTime(t)}); err != nil {
		u.flash(w, r, "error", "Not rescheduled: "+describe(err), "/ges/callbacks/"+cb.ID)
		return
	}
	slog.Info("UI rescheduled a callback", "user", sess.User, "tenant", sess.Tenant, "id", cb.ID, "desired", t)
	u.flash(w, r, "ok", "Callback rescheduled to "+t.UTC().Format(uiTime)+" UTC.", "/ges/callbacks/"+cb.ID)
}
