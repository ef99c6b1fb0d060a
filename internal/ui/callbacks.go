package ui

import (
	"cmp"
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

// exportLimit bounds one CSV export.
const exportLimit = 50000

// column is a standard grid column.
type column struct{ ID, Label string }

var columns = []column{
	{"service", "Service Name"}, {"phone", "Phone Number"}, {"state", "State"},
	{"desired", "Desired Time"}, {"created", "Created"}, {"updated", "Updated"},
	{"position", "Position"}, {"ewt", "EWT (s)"}, {"attempt", "Attempts"},
}

var defaultColumns = []string{"service", "phone", "state", "desired", "created"}

// timeColumns show a time, in the display zone their header names.
var timeColumns = []string{"desired", "created", "updated"}

// zoneLabel names a display-zone choice in a grid header: rows of several
// services each show their own service's zone.
func zoneLabel(choice string) string {
	if choice == zoneService {
		return "service's zone"
	}
	return choice
}

// gridTime shows t in loc, with the zone's abbreviation so that a row in
// another service's zone is never read wrongly.
func gridTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(uiTime + " MST")
}

// sortable are the columns the grid sorts by (on the server, so that the
// live refresh keeps the order); the default is newest desired time first.
var sortable = []string{"service", "phone", "state", "desired", "created", "updated"}

const defaultSort = "-desired"

// headCell is a column header: a sortable one links to the grid sorted by
// it, ascending first and reversed on the next click.
type headCell struct {
	Label string
	// URL is empty for a column the grid cannot sort by.
	URL string
	// Aria is the header's aria-sort: ascending, descending or none.
	Aria string
}

// header returns the grid's column headers; phone is not sortable for a
// user who sees masked numbers (the order would tell them apart).
func (f gridFilter) header(mask bool, zone string) []headCell {
	var out []headCell
	for _, c := range f.Cols {
		i := slices.IndexFunc(columns, func(k column) bool { return k.ID == c })
		if i < 0 {
			continue
		}
		h := headCell{Label: columns[i].Label}
		if slices.Contains(timeColumns, c) {
			h.Label += " (" + zone + ")"
		}
		if slices.Contains(sortable, c) && (c != "phone" || !mask) {
			next := f
			next.Sort, h.Aria = c, "none"
			switch f.Sort {
			case c:
				next.Sort, h.Aria = "-"+c, "ascending"
			case "-" + c:
				h.Aria = "descending"
			}
			h.URL = next.URL(1)
		}
		out = append(out, h)
	}
	for _, k := range f.UD {
		out = append(out, headCell{Label: k})
	}
	return out
}

var states = []callback.State{callback.Scheduled, callback.Queued, callback.Routing, callback.Processing, callback.Completed}

// gridFilter is the grid's query: filters, page and chosen columns.
type gridFilter struct {
	Service, State, From, To, Phone string
	// Sort is a sortable column's id, "-" first for descending.
	Sort     string
	Page     int
	Cols     []string
	UD       []string
	Live     bool
	from, to *time.Time
}

func parseFilter(q url.Values) (gridFilter, error) {
	f := gridFilter{Service: q.Get("service"), State: strings.ToUpper(q.Get("state")), From: q.Get("from"), To: q.Get("to"),
		Phone: strings.TrimSpace(q.Get("phone")), Live: q.Get("live") != "", Sort: q.Get("sort")}
	if !slices.Contains(sortable, strings.TrimPrefix(f.Sort, "-")) {
		f.Sort = defaultSort
	}
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
	// The stores take no NUL and no invalid UTF-8: such a filter is the
	// caller's mistake, not a storage failure.
	for name, s := range map[string]string{"service": f.Service, "phone": f.Phone, "ud": q.Get("ud")} {
		if err := callback.CheckText(name, s); err != nil {
			return f, err
		}
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
	if f.Sort != defaultSort {
		v.Set("sort", f.Sort)
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
	// Sort is a sortable column, "-" first for descending.
	Sort string
}

// Grid finds the callbacks of the grid and the export (pgstore.UIGrid).
type Grid interface {
	// Find returns the ids of a page of matching callbacks in the query's
	// order, and how many match in all.
	Find(ctx context.Context, tenant string, q GridQuery, offset, limit int) (ids []string, total int, err error)
}

// findIDs selects the ids of a page of matching callbacks among the
// services the user may see, in the filter's order, and the total count.
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
	return u.d.Grid.Find(ctx, tenant, GridQuery{Services: services, State: f.State, From: f.from, To: f.to, Phone: f.Phone, Sort: f.Sort}, offset, limit)
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
	Cells       []gridCell
	Cancellable bool
}

// gridCell is one cell: a value that never wraps (Keep), a state badge
// (Badge is its class), or text that may wrap (user data).
type gridCell struct {
	Text, Badge string
	Keep        bool
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

// stateBadge is the badge class of a state: failures and cancellations
// apart from the successful completion.
func stateBadge(cb *callback.Callback) string {
	if cb.State != callback.Completed {
		return "st-" + strings.ToLower(string(cb.Shown()))
	}
	switch {
	case strings.HasPrefix(cb.Reason, "FAIL"):
		return "st-failed"
	case strings.HasPrefix(cb.Reason, "CANCELLED"):
		return "st-cancelled"
	}
	return "st-completed"
}

// cells renders a callback's chosen columns.
func cells(cb *callback.Callback, cols, ud []string, mask bool, loc *time.Location) []gridCell {
	keys := callback.Keys(cb)
	phone := cb.Phone
	if mask {
		phone = maskPhone(phone)
	}
	var out []gridCell
	for _, c := range cols {
		var v string
		badge := ""
		switch c {
		case "service":
			v = cb.Service
		case "phone":
			v = phone
		case "state":
			v, badge = stateText(cb), stateBadge(cb)
		case "desired":
			v = gridTime(cb.Desired, loc)
		case "created":
			v = gridTime(cb.Created, loc)
		case "updated":
			v = gridTime(cb.Updated, loc)
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
		out = append(out, gridCell{Text: v, Badge: badge, Keep: true})
	}
	for _, k := range ud {
		v := keys[k]
		if mask && k == callback.KeyCustomerNumber {
			v = phone
		}
		out = append(out, gridCell{Text: v})
	}
	return out
}

func (u *UI) masked(sess *Session) bool { return !Can(sess.Roles, ChangeCallbacks) }

// createForm is what the create form was sent with, shown again with the
// reason when the callback was not booked.
type createForm struct {
	Service, Phone, Desired, UserData string
	Error                             string
}

func (u *UI) callbacksPage(w http.ResponseWriter, r *http.Request) {
	u.showCallbacks(w, r, http.StatusOK, createForm{})
}

// showCallbacks renders the grid of the request's filter, with the create
// form as it was sent when form.Error is set.
func (u *UI) showCallbacks(w http.ResponseWriter, r *http.Request, code int, form createForm) {
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
	choice := zoneChoice(w, r)
	var rows []gridRow
	for _, cb := range u.load(r.Context(), sess.Tenant, ids) {
		svc, _ := u.d.Settings.Service(sess.Tenant, cb.Service)
		rows = append(rows, gridRow{ID: cb.ID, Cells: cells(cb, f.Cols, f.UD, mask, zoneOf(choice, svc)), Cancellable: cancellable(cb)})
	}
	pages := max((total+PageSize-1)/PageSize, 1)
	data := map[string]any{
		"Filter": f, "Rows": rows, "Header": f.header(mask, zoneLabel(choice)), "Form": form, "Zone": choice, "Total": total, "Pages": pages, "Services": services,
		"States": states, "Columns": columns, "Masked": mask,
		"Prev": f.URL(f.Page - 1), "Next": f.URL(f.Page + 1), "HasPrev": f.Page > 1, "HasNext": f.Page < pages,
		"Now": u.d.Clock.Now().UTC(),
	}
	// The create form's slot grid: the service chosen, else the first.
	data["Keep"] = f.Values(f.Page)
	cservice := r.URL.Query().Get("cservice")
	if !slices.Contains(services, cservice) {
		cservice = ""
	}
	data["CreateOpen"] = cservice != ""
	if pick := cmp.Or(form.Service, cservice, firstOf(services)); pick != "" && Can(sess.Roles, ChangeCallbacks) {
		if svc, ok := u.d.Settings.Service(sess.Tenant, pick); ok {
			data["TZ"] = newZoneView(choice, svc)
			if p, err := u.picker(r, sess, svc, zoneOf(choice, svc), time.Time{}, func(string) string { return "" }); err == nil {
				createSlots(p, pick, f.Values(f.Page))
				data["Picker"] = p
			}
		}
	}
	if data["TZ"] == nil {
		data["TZ"] = newZoneView(choice, nil)
	}
	zones := map[string]string{}
	for _, name := range services {
		if svc, ok := u.d.Settings.Service(sess.Tenant, name); ok {
			zones[name] = zoneOf(choice, svc).String()
		}
	}
	data["Zones"] = zones
	u.render(w, r, code, "callbacks", sess, data)
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
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

func (u *UI) createCallback(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	form := createForm{Service: r.PostFormValue("service"), Phone: strings.TrimSpace(r.PostFormValue("phone")),
		Desired: strings.TrimSpace(r.PostFormValue("desired")), UserData: strings.TrimSpace(r.PostFormValue("userData"))}
	if !u.canSee(r.Context(), sess, form.Service) {
		u.forbidden(w, r, sess, "You may not book callbacks for this service.")
		return
	}
	// A refused create shows the form again as it was sent, with the reason.
	refuse := func(code int, msg string) {
		form.Error = msg
		u.showCallbacks(w, r, code, form)
	}
	req := callback.CreateRequest{Service: form.Service, Phone: form.Phone, Source: "ui"}
	if slot := r.PostFormValue("slot"); slot != "" {
		// A slot of the picker was chosen.
		form.Desired = slot
	}
	if form.Desired != "" {
		svc, _ := u.d.Settings.Service(sess.Tenant, form.Service)
		t, ok := formTimeIn(form.Desired, zoneOf(r.PostFormValue("tz"), svc))
		if !ok {
			refuse(http.StatusBadRequest, "Not booked: unreadable desired time "+form.Desired+".")
			return
		}
		req.Desired = t
		req.AlwaysCheckCapacity = true
	}
	if form.UserData != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(form.UserData), &obj); err != nil || obj == nil {
			refuse(http.StatusBadRequest, "Not booked: user data must be a JSON object.")
			return
		}
		req.UserData = json.RawMessage(form.UserData)
	}
	cb, err := u.d.Callbacks.Create(r.Context(), sess.Tenant, req)
	if err != nil {
		refuse(statusOf(err), "Not booked: "+describe(err))
		return
	}
	slog.Info("UI created a callback", "user", sess.User, "tenant", sess.Tenant, "id", cb.ID)
	u.flash(w, r, "ok", "Callback "+cb.ID+" booked for "+cb.Desired.UTC().Format(uiTime)+" UTC.", "/ges/callbacks/"+cb.ID)
}

// statusOf is the status of a page refusing an action for err.
func statusOf(err error) int {
	var de *callback.Error
	switch {
	case !errors.As(err, &de):
		return http.StatusInternalServerError
	case de.Kind == callback.KindNoCapacity:
		return http.StatusConflict
	}
	return http.StatusBadRequest
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
	svc, _ := u.d.Settings.Service(sess.Tenant, cb.Service)
	if svc != nil && svc.Location != nil && svc.TimeZone != "UTC" {
		// Agents talk with customers in the service's time zone.
		data["Zone"] = svc.Location
	}
	choice := zoneChoice(w, r)
	loc := zoneOf(choice, svc)
	data["TZ"], data["Shown"], data["Keep"] = newZoneView(choice, svc), loc, url.Values{}
	if Can(sess.Roles, ChangeCallbacks) && cancellable(cb) && svc != nil {
		link := func(day string) string {
			return "/ges/callbacks/" + cb.ID + "?" + url.Values{"day": {day}}.Encode() + "#slots"
		}
		if p, err := u.picker(r, sess, svc, loc, cb.Desired, link); err == nil {
			p.Action = "/ges/callbacks/" + cb.ID + "/reschedule"
			data["Picker"] = p
		} else {
			slog.Warn("UI: slots failed", "err", err)
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
	if len(ids) == 0 {
		u.fail(w, r, http.StatusBadRequest, "No callbacks were selected: nothing was cancelled. Select callbacks in the grid first.")
		return
	}
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
	svc, _ := u.d.Settings.Service(sess.Tenant, cb.Service)
	t, ok := formTimeIn(r.PostFormValue("desired"), zoneOf(r.PostFormValue("tz"), svc))
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
