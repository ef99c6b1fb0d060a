package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/callin"
	"github.com/gesgo/ges/internal/ids"
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/principal"
)

// Click-To-Call-In on both ports: the Engagement API request, the GMS
// request-access and match-interaction services the routing application
// calls, and the configuration of the groups.

// callinView is the CallInRequest model of the Engagement API.
type callinView struct {
	ID                string `json:"id"`
	ToPhoneNumber     string `json:"toPhoneNumber"`
	GroupName         string `json:"groupName"`
	ExpirationTime    int64  `json:"expirationTime"`
	AccessCode        *int64 `json:"accessCode,omitempty"`
	FromPhoneNumber   string `json:"fromPhoneNumber,omitempty"`
	CallbackServiceID string `json:"callbackServiceId,omitempty"`
}

func (x *external) callinCreate(w http.ResponseWriter, r *http.Request) {
	if x.Callin == nil {
		x.fail(w, r, http.StatusServiceUnavailable, "Click-To-Call-In is not available", nil)
		return
	}
	m, ok := x.body(w, r)
	if !ok {
		return
	}
	req, err := parseCallinRequest(m)
	if err != nil {
		x.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	}
	res, err := x.Callin.Request(r.Context(), info(r.Context()).tenant, req)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	v := callinView{ID: res.ID, ToPhoneNumber: res.Number, GroupName: res.Group, ExpirationTime: res.Expires.UnixMilli(),
		FromPhoneNumber: res.FromPhone, CallbackServiceID: res.CallbackServiceID}
	if res.Code != "" {
		c, _ := strconv.ParseInt(res.Code, 10, 64)
		v.AccessCode = &c
	}
	x.ok(w, r, v)
}

// parseCallinRequest checks the CallInRequestsParms body.
func parseCallinRequest(m map[string]json.RawMessage) (callin.Request, error) {
	var req callin.Request
	var err error
	if req.Group, err = requiredText(m, "groupName"); err != nil {
		return req, err
	}
	if req.FromPhone, err = optionalText(m, "fromPhoneNumber"); err != nil {
		return req, err
	}
	if req.FromPhone == "" {
		// The field's name before the clients renamed it.
		if req.FromPhone, err = optionalText(m, "phoneNumber"); err != nil {
			return req, err
		}
	}
	if req.UserData, err = parseUserData(m["userData"]); err != nil {
		return req, err
	}
	id, err := optionalText(m, "callbackServiceId")
	if err != nil {
		return req, fmt.Errorf("Invalid callbackServiceId: expected a UUID")
	}
	if id != "" && !ids.Valid(id) {
		return req, fmt.Errorf("Invalid callbackServiceId: %q (expected a UUID)", truncate(id, 64))
	}
	req.CallbackServiceID = strings.ToLower(id)
	return req, nil
}

// callinRoutes mounts the GMS Click-To-Call-In endpoints of the internal
// port (tenant from the header, as the GMS API).
func (x *internal) callinRoutes(r chi.Router) {
	r.Post("/genesys/1/service/request-access", x.requestAccess)
	r.Post("/genesys/1/service/match-interaction", x.matchInteraction)
}

// callinAdminRoutes mounts the management of Click-To-Call-In groups, an
// admin API (principal).
func (x *internal) callinAdminRoutes(r chi.Router) {
	r.With(x.admin(principal.ManageCallin)).Put("/ges/v1/callin/groups/{name}", x.putCallinGroup)
	r.With(x.admin(principal.ReadCallin)).Get("/ges/v1/callin/groups", x.listCallinGroups)
	r.With(x.admin(principal.ReadCallin)).Get("/ges/v1/callin/groups/{name}", x.getCallinGroup)
	r.With(x.admin(principal.ManageCallin)).Delete("/ges/v1/callin/groups/{name}", x.deleteCallinGroup)
}

func (x *internal) callinReady(w http.ResponseWriter) bool {
	if x.Callin == nil {
		x.fail(w, http.StatusServiceUnavailable, excUnavailable, "Click-To-Call-In is not available")
		return false
	}
	return true
}

// groupView is a group as the configuration API shows it.
type groupView struct {
	Name          string   `json:"name"`
	Numbers       []string `json:"numbers"`
	ExpirySeconds int      `json:"expirySeconds"`
	AccessCodes   bool     `json:"accessCodes"`
	CodeLength    int      `json:"codeLength"`
	Allocation    string   `json:"allocation"`
	UpdatedAt     string   `json:"updatedAt"`
}

// groupDetail is a group with its live reservations (an empty list is
// shown, not omitted: "none reserved" is an answer).
type groupDetail struct {
	groupView
	Reservations []reservationView `json:"reservations"`
}

type reservationView struct {
	ID                string `json:"id"`
	Number            string `json:"number"`
	Code              string `json:"code,omitempty"`
	Expiry            string `json:"expiry"`
	FromPhoneNumber   string `json:"fromPhoneNumber,omitempty"`
	CallbackServiceID string `json:"callbackServiceId,omitempty"`
	Created           string `json:"created"`
}

func viewOfGroup(g *callin.Group) groupView {
	nums := g.Numbers
	if nums == nil {
		nums = []string{}
	}
	return groupView{Name: g.Name, Numbers: nums, ExpirySeconds: int(g.Expiry / time.Second), AccessCodes: g.AccessCodes,
		CodeLength: g.CodeLength, Allocation: g.Allocation, UpdatedAt: callback.FormatTime(g.UpdatedAt)}
}

// groupFields are the members of a group body.
var groupFields = []string{"numbers", "expirySeconds", "accessCodes", "codeLength", "allocation"}

// parseGroup checks a group body strictly: this is an administrator's
// configuration, where a misspelt field would silently change nothing.
func parseGroup(name string, m map[string]json.RawMessage) (*callin.Group, error) {
	g := &callin.Group{Name: name}
	var unknown []string
	for k := range m {
		known := k == "name"
		for _, f := range groupFields {
			known = known || k == f
		}
		if !known {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("Unknown field %q (expected %s)", unknown[0], strings.Join(groupFields, ", "))
	}
	if raw, ok := m["name"]; ok && string(raw) != "null" {
		var n string
		if json.Unmarshal(raw, &n) != nil || strings.TrimSpace(n) != strings.TrimSpace(name) {
			return nil, fmt.Errorf("The body names group %s but the path names %s", truncate(string(raw), 64), name)
		}
	}
	raw, ok := m["numbers"]
	if !ok || string(raw) == "null" {
		return nil, errors.New("numbers is required: an array of access numbers (E.164, such as +18005550100)")
	}
	if json.Unmarshal(raw, &g.Numbers) != nil {
		return nil, errors.New("Invalid numbers: expected an array of strings")
	}
	if len(g.Numbers) == 0 {
		return nil, errors.New("numbers is required: at least one access number (E.164, such as +18005550100)")
	}
	positive := func(field string) (int, bool, error) {
		raw, ok := m[field]
		if !ok || string(raw) == "null" {
			return 0, false, nil
		}
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return 0, false, fmt.Errorf("Invalid %s: expected a whole number", field)
		}
		v, err := strconv.Atoi(n.String())
		if err != nil || v < 1 {
			return 0, false, fmt.Errorf("Invalid %s: %s (expected a whole number of at least 1)", field, truncate(n.String(), 32))
		}
		return v, true, nil
	}
	if v, ok, err := positive("expirySeconds"); err != nil {
		return nil, err
	} else if ok {
		if v > int(callin.MaxExpiry/time.Second) {
			return nil, fmt.Errorf("Invalid expirySeconds: %d (at most %d)", v, int(callin.MaxExpiry/time.Second))
		}
		g.Expiry = time.Duration(v) * time.Second
	}
	if v, ok, err := positive("codeLength"); err != nil {
		return nil, err
	} else if ok {
		g.CodeLength = v
	}
	if raw, ok := m["accessCodes"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &g.AccessCodes) != nil {
			return nil, errors.New("Invalid accessCodes: expected true or false")
		}
	}
	if raw, ok := m["allocation"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &g.Allocation) != nil {
			return nil, errors.New("Invalid allocation: expected random or round-robin")
		}
		if strings.TrimSpace(g.Allocation) == "" {
			return nil, errors.New("Invalid allocation: expected random or round-robin")
		}
	}
	return g, nil
}

func (x *internal) putCallinGroup(w http.ResponseWriter, r *http.Request) {
	if !x.callinReady(w) {
		return
	}
	b, err := readBody(r, InternalBodyLimit)
	if errors.Is(err, errTooLarge) {
		x.Metrics.Alert(metrics.InvalidContentLength)
		x.fail(w, http.StatusRequestEntityTooLarge, excInvalid, "Request body exceeds the limit of 10 MB")
		return
	}
	if err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, "Could not read the request body")
		return
	}
	m, err := decodeObject(b)
	if err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, "Malformed group: "+jsonProblem(err))
		return
	}
	g, err := parseGroup(param(r, "name"), m)
	if err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, err.Error())
		return
	}
	if err := x.Callin.PutGroup(r.Context(), tenantOf(r).ID, g); err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOfGroup(g))
}

func (x *internal) listCallinGroups(w http.ResponseWriter, r *http.Request) {
	if !x.callinReady(w) {
		return
	}
	gs, err := x.Callin.Groups(r.Context(), tenantOf(r).ID)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	out := make([]groupView, 0, len(gs))
	for _, g := range gs {
		out = append(out, viewOfGroup(g))
	}
	writeJSON(w, http.StatusOK, out)
}

func (x *internal) getCallinGroup(w http.ResponseWriter, r *http.Request) {
	if !x.callinReady(w) {
		return
	}
	g, rs, err := x.Callin.Group(r.Context(), tenantOf(r).ID, param(r, "name"))
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	v := groupDetail{groupView: viewOfGroup(g), Reservations: make([]reservationView, 0, len(rs))}
	for _, res := range rs {
		v.Reservations = append(v.Reservations, reservationView{ID: res.ID, Number: res.Number, Code: res.Code,
			Expiry: callback.FormatTime(res.Expires), FromPhoneNumber: res.FromPhone, CallbackServiceID: res.CallbackServiceID,
			Created: callback.FormatTime(res.Created)})
	}
	writeJSON(w, http.StatusOK, v)
}

func (x *internal) deleteCallinGroup(w http.ResponseWriter, r *http.Request) {
	if !x.callinReady(w) {
		return
	}
	name := param(r, "name")
	if err := x.Callin.DeleteGroup(r.Context(), tenantOf(r).ID, name); err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "deleted": true})
}

// requestAccess is GMS' request-access service: the same allocation as the
// Engagement API, with GMS keys. Keys without a leading underscore are user
// data, returned by the match.
func (x *internal) requestAccess(w http.ResponseWriter, r *http.Request) {
	if !x.callinReady(w) {
		return
	}
	kv, ok := x.body(w, r)
	if !ok {
		return
	}
	req := callin.Request{Group: kv["_resource_group"], FromPhone: kv["_phone_number"]}
	if strings.TrimSpace(req.Group) == "" {
		x.fail(w, http.StatusBadRequest, excInvalid, "_resource_group is required")
		return
	}
	if id := strings.TrimSpace(kv["_callback_service_id"]); id != "" {
		if !ids.Valid(id) {
			x.fail(w, http.StatusBadRequest, excInvalid, "Invalid _callback_service_id: "+truncate(id, 64)+" (expected a UUID)")
			return
		}
		req.CallbackServiceID = strings.ToLower(id)
	}
	user := map[string]string{}
	for k, v := range kv {
		if !strings.HasPrefix(k, "_") && v != "" {
			user[k] = v
		}
	}
	if len(user) > 0 {
		req.UserData, _ = json.Marshal(user)
	}
	res, err := x.Callin.Request(r.Context(), tenantOf(r).ID, req)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	out := map[string]string{"_id": res.ID, "_access_number": res.Number, "_expiration_time": callback.FormatTime(res.Expires)}
	if res.Code != "" {
		out["_access_code"] = res.Code
	}
	writeJSON(w, http.StatusOK, out)
}

// matchInteraction is GMS' match-interaction service, which the Designer
// Click-to-Call-In Match block calls: the reservation matched is released.
func (x *internal) matchInteraction(w http.ResponseWriter, r *http.Request) {
	if !x.callinReady(w) {
		return
	}
	kv, ok := x.body(w, r)
	if !ok {
		return
	}
	res, err := x.Callin.Match(r.Context(), tenantOf(r).ID, callin.Criteria{Number: kv["_access_number"], Code: kv["_access_code"], Phone: kv["_phone_number"]})
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	data := json.RawMessage(res.UserData)
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	out := map[string]any{"_id": res.ID, "_access_number": res.Number, "_resource_group": res.Group, "_data": data}
	if res.Code != "" {
		out["_access_code"] = res.Code
	}
	if res.FromPhone != "" {
		out["_phone_number"] = res.FromPhone
	}
	if res.CallbackServiceID != "" {
		out["_callback_service_id"] = res.CallbackServiceID
	}
	writeJSON(w, http.StatusOK, out)
}
