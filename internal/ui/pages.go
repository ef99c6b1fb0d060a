package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/callin"
	"github.com/gesgo/ges/internal/credentials"
	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/pause"
	"github.com/gesgo/ges/internal/settings"
)

// queueView is one service on the Callback Queues page.
type queueView struct {
	Name      string
	Counts    []int // per state, in the order of states
	Watermark int   // QUEUED + ROUTING + PROCESSING (GMS watermark)
	Svc       *settings.Service
	Columns   []kv
	// Paused: held back from ORS since PausedAt; Held counts the due
	// callbacks waiting for the resume.
	Paused   bool
	PausedAt time.Time
	Held     int
}

func (u *UI) queuesPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	perState := make([]map[string]int, len(states))
	for i, st := range states {
		m, err := u.d.Callbacks.Count(r.Context(), sess.Tenant, st)
		if err != nil {
			u.fail(w, r, http.StatusServiceUnavailable, "Callback storage is unavailable, try again.")
			return
		}
		perState[i] = m
	}
	paused := map[string]pause.Paused{}
	if u.d.Pauses != nil {
		ps, err := u.d.Pauses.List(r.Context(), sess.Tenant)
		if err != nil {
			u.fail(w, r, http.StatusServiceUnavailable, "Callback storage is unavailable, try again.")
			return
		}
		for _, p := range ps {
			paused[p.Service] = p
		}
	}
	var qs []queueView
	visible := u.services(r.Context(), sess)
	for _, name := range visible {
		svc, _ := u.d.Settings.Service(sess.Tenant, name)
		q := queueView{Name: name, Svc: svc}
		if p, ok := paused[name]; ok {
			q.Paused, q.PausedAt, q.Held = true, p.At, p.Held
		}
		for i, st := range states {
			n := perState[i][name]
			q.Counts = append(q.Counts, n)
			if st == callback.Queued || st == callback.Routing || st == callback.Processing {
				q.Watermark += n
			}
		}
		if svc != nil {
			for k, v := range svc.Columns {
				q.Columns = append(q.Columns, kv{k, v})
			}
			sort.Slice(q.Columns, func(i, j int) bool { return q.Columns[i].Key < q.Columns[j].Key })
		}
		qs = append(qs, q)
	}
	u.render(w, r, http.StatusOK, "queues", sess, map[string]any{"Queues": qs, "States": states, "CanPause": u.d.Pauses != nil,
		"Charts": u.queueChartsOf(r.Context(), sess, visible)})
}

// pauseService holds a service's due callbacks back from ORS until it is
// resumed.
func (u *UI) pauseService(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	name := chi.URLParam(r, "service")
	if u.d.Pauses == nil || !slices.Contains(u.services(r.Context(), sess), name) {
		u.fail(w, r, http.StatusNotFound, "No such service.")
		return
	}
	if _, err := u.d.Pauses.Pause(r.Context(), sess.Tenant, name, sess.User); err != nil {
		u.flash(w, r, "error", "Service not paused: "+err.Error(), "/ges/queues")
		return
	}
	u.flash(w, r, "ok", "Service "+name+" paused: its due callbacks wait until it is resumed.", "/ges/queues")
}

// resumeService hands the held callbacks of a service off in due order.
func (u *UI) resumeService(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	name := chi.URLParam(r, "service")
	if u.d.Pauses == nil || !slices.Contains(u.services(r.Context(), sess), name) {
		u.fail(w, r, http.StatusNotFound, "No such service.")
		return
	}
	n, err := u.d.Pauses.Resume(r.Context(), sess.Tenant, name)
	if err != nil {
		u.flash(w, r, "error", "Service not resumed: "+err.Error(), "/ges/queues")
		return
	}
	u.flash(w, r, "ok", fmt.Sprintf("Service %s resumed: %d waiting callbacks handed off in due order.", name, n), "/ges/queues")
}

// Click-To-Call-In

func (u *UI) callinPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	data := map[string]any{"Available": u.d.Callin != nil}
	if u.d.Callin != nil {
		gs, err := u.d.Callin.Groups(r.Context(), sess.Tenant)
		if err != nil {
			u.fail(w, r, http.StatusServiceUnavailable, "Click-To-Call-In storage is unavailable, try again.")
			return
		}
		data["Groups"] = gs
	}
	u.render(w, r, http.StatusOK, "callin", sess, data)
}

func (u *UI) callinGroupPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if u.d.Callin == nil {
		u.fail(w, r, http.StatusNotFound, "Click-To-Call-In is not available.")
		return
	}
	g, rs, err := u.d.Callin.Group(r.Context(), sess.Tenant, chi.URLParam(r, "group"))
	if err != nil {
		var ce *callin.Error
		if errors.As(err, &ce) && ce.Kind == callin.KindNotFound {
			u.fail(w, r, http.StatusNotFound, ce.Msg)
			return
		}
		u.fail(w, r, http.StatusServiceUnavailable, "Click-To-Call-In storage is unavailable, try again.")
		return
	}
	mask := u.masked(sess)
	type res struct {
		callin.Reservation
		Phone string
	}
	var out []res
	for _, x := range rs {
		p := x.FromPhone
		if mask {
			p = maskPhone(p)
		}
		out = append(out, res{x, p})
	}
	u.render(w, r, http.StatusOK, "callin_group", sess, map[string]any{"Group": g, "Reservations": out, "Now": u.d.Clock.Now()})
}

func (u *UI) putCallinGroup(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if u.d.Callin == nil {
		u.fail(w, r, http.StatusNotFound, "Click-To-Call-In is not available.")
		return
	}
	g := &callin.Group{Name: strings.TrimSpace(r.PostFormValue("name")), AccessCodes: r.PostFormValue("codes") != "",
		Allocation: r.PostFormValue("allocation")}
	// Numbers are separated by lines, commas or semicolons; spaces are
	// part of how people write a number (+1 800 555 0100).
	for _, n := range strings.FieldsFunc(r.PostFormValue("numbers"), func(c rune) bool { return c == ',' || c == ';' || c == '\n' || c == '\r' }) {
		if n = strings.TrimSpace(n); n != "" {
			g.Numbers = append(g.Numbers, n)
		}
	}
	if s := r.PostFormValue("expiry"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			u.flash(w, r, "error", "Expiry must be whole seconds.", "/ges/callin")
			return
		}
		g.Expiry = time.Duration(n) * time.Second
	}
	if s := r.PostFormValue("codeLength"); s != "" {
		g.CodeLength, _ = strconv.Atoi(s)
	}
	if err := u.d.Callin.PutGroup(r.Context(), sess.Tenant, g); err != nil {
		u.flash(w, r, "error", "Group not saved: "+err.Error(), "/ges/callin")
		return
	}
	u.flash(w, r, "ok", "Group "+g.Name+" saved.", "/ges/callin")
}

func (u *UI) deleteCallinGroup(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if u.d.Callin == nil {
		u.fail(w, r, http.StatusNotFound, "Click-To-Call-In is not available.")
		return
	}
	name := chi.URLParam(r, "group")
	if err := u.d.Callin.DeleteGroup(r.Context(), sess.Tenant, name); err != nil {
		u.flash(w, r, "error", "Group not deleted: "+err.Error(), "/ges/callin")
		return
	}
	u.flash(w, r, "ok", "Group "+name+" deleted.", "/ges/callin")
}

// Developer

var credentialKinds = []struct{ Kind, Label, Example string }{
	{credentials.GWS, "GWS credentials (statistics access)", `{"clientId":"...","clientSecret":"..."}`},
	{credentials.FCM, "Push notifications (FCM service-account key)", `{"type":"service_account","project_id":"...","private_key":"...","client_email":"..."}`},
	{credentials.Captcha, "CAPTCHA", `{"enabled":true,"secret":"..."}`},
}

type credentialState struct {
	Kind, Label, Example string
	Set                  bool
	Updated              time.Time
}

func (u *UI) developerPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	corr := strings.TrimSpace(r.URL.Query().Get("corrId"))
	data := map[string]any{"CorrID": corr, "Retention": ErrorRetention}
	if u.Errors != nil {
		errs, err := u.Errors.Search(r.Context(), sess.Tenant, corr, 200)
		if err != nil {
			slog.Warn("UI: API error log failed", "err", err)
			data["LogError"] = "The error log is unavailable."
		}
		data["Errors"] = errs
	}
	var creds []credentialState
	if u.d.Credentials != nil {
		for _, k := range credentialKinds {
			c := credentialState{Kind: k.Kind, Label: k.Label, Example: k.Example}
			if _, at, err := u.d.Credentials.Get(r.Context(), sess.Tenant, k.Kind); err == nil {
				c.Set, c.Updated = true, at
			}
			creds = append(creds, c)
		}
	}
	data["Credentials"] = creds
	u.render(w, r, http.StatusOK, "developer", sess, data)
}

func (u *UI) checkAPIKey(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	key := strings.TrimSpace(r.PostFormValue("apiKey"))
	if key == "" {
		u.flash(w, r, "error", "Paste an API key to check.", "/ges/developer")
		return
	}
	t, err := u.d.Tenants.ByAPIKey(r.Context(), key)
	switch {
	case err == nil && t != nil && (t.ID == sess.Tenant || sess.DevOps):
		u.flash(w, r, "ok", "The API key is valid for contact center "+t.Name+".", "/ges/developer")
	case err == nil || errors.Is(err, gws.ErrUnknown):
		u.flash(w, r, "error", "The API key is not valid for this contact center.", "/ges/developer")
	default:
		slog.Warn("UI: API key check failed", "err", err)
		u.flash(w, r, "error", "Could not check the API key now (GWS unavailable); try again.", "/ges/developer")
	}
}

func (u *UI) credentialKind(w http.ResponseWriter, r *http.Request) (string, bool) {
	kind := chi.URLParam(r, "kind")
	for _, k := range credentialKinds {
		if k.Kind == kind && u.d.Credentials != nil {
			return kind, true
		}
	}
	u.fail(w, r, http.StatusNotFound, "Unknown credentials kind.")
	return "", false
}

func (u *UI) putCredentials(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	kind, ok := u.credentialKind(w, r)
	if !ok {
		return
	}
	b := []byte(strings.TrimSpace(r.PostFormValue("value")))
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil || probe == nil {
		u.flash(w, r, "error", "Credentials must be a JSON object.", "/ges/developer")
		return
	}
	if check := u.d.CredentialChecks[kind]; check != nil {
		if err := check(b); err != nil {
			u.flash(w, r, "error", "Credentials refused: "+err.Error(), "/ges/developer")
			return
		}
	}
	if err := u.d.Credentials.Put(r.Context(), sess.Tenant, kind, b); err != nil {
		slog.Warn("UI: storing credentials failed", "kind", kind, "err", err)
		u.flash(w, r, "error", "Credentials not stored: the store is unavailable or has no key.", "/ges/developer")
		return
	}
	slog.Info("UI stored credentials", "user", sess.User, "tenant", sess.Tenant, "kind", kind)
	u.flash(w, r, "ok", fmt.Sprintf("%s credentials stored.", strings.ToUpper(kind)), "/ges/developer")
}

func (u *UI) deleteCredentials(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	kind, ok := u.credentialKind(w, r)
	if !ok {
		return
	}
	if err := u.d.Credentials.Delete(r.Context(), sess.Tenant, kind); err != nil && !errors.Is(err, credentials.ErrNotFound) {
		u.flash(w, r, "error", "Credentials not deleted: the store is unavailable.", "/ges/developer")
		return
	}
	slog.Info("UI deleted credentials", "user", sess.User, "tenant", sess.Tenant, "kind", kind)
	u.flash(w, r, "ok", fmt.Sprintf("%s credentials deleted.", strings.ToUpper(kind)), "/ges/developer")
}

func (u *UI) refetch(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if u.d.Refetch == nil {
		u.flash(w, r, "error", "Refetch is not available.", "/ges/developer")
		return
	}
	if err := u.d.Refetch(r.Context(), sess.Tenant); err != nil {
		u.flash(w, r, "error", "Refetch failed: "+err.Error(), "/ges/developer")
		return
	}
	sess.ServicesAt = time.Time{}
	u.setTenantName(r.Context(), sess)
	u.flash(w, r, "ok", "Tenant configuration fetched again.", "/ges/developer")
}
