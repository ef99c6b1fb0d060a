package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/numbers"
	"github.com/gesgo/ges/internal/principal"
)

// numberRulesBodyLimit bounds the body of a rule or a test.
const numberRulesBodyLimit = 64 << 10

// ruleView is a number rule as the admin API shows and takes it.
type ruleView struct {
	Name      string            `json:"name"`
	Countries []string          `json:"countries"`
	Patterns  []numbers.Pattern `json:"patterns"`
	Services  []string          `json:"services"`
	UpdatedAt string            `json:"updatedAt,omitempty"`
	UpdatedBy string            `json:"updatedBy,omitempty"`
}

func viewRule(r *numbers.Rule) ruleView {
	v := ruleView{Name: r.Name, Countries: r.Countries, Patterns: r.Patterns, Services: r.Services,
		UpdatedAt: callback.FormatTime(r.UpdatedAt), UpdatedBy: r.UpdatedBy}
	if v.Patterns == nil {
		v.Patterns = []numbers.Pattern{}
	}
	if v.Services == nil {
		v.Services = []string{}
	}
	return v
}

// numberRoutes mounts the admin API of number rules (principal).
func (x *internal) numberRoutes(r chi.Router) {
	r.With(x.admin(principal.ReadNumberRules)).Get("/ges/v1/numbers/rules", x.listNumberRules)
	r.With(x.admin(principal.ReadNumberRules)).Get("/ges/v1/numbers/rules/{name}", x.getNumberRule)
	r.With(x.admin(principal.ManageNumberRules)).Put("/ges/v1/numbers/rules/{name}", x.putNumberRule)
	r.With(x.admin(principal.ManageNumberRules)).Delete("/ges/v1/numbers/rules/{name}", x.deleteNumberRule)
	r.With(x.admin(principal.ReadNumberRules)).Post("/ges/v1/numbers/test", x.testNumber)
}

func (x *internal) numbersReady(w http.ResponseWriter) bool {
	if x.Numbers == nil {
		x.fail(w, http.StatusServiceUnavailable, excUnavailable, "Number rules are not available")
		return false
	}
	return true
}

// decodeStrict reads a JSON object body into v, refusing unknown fields.
func (x *internal) decodeStrict(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	b, err := readBody(r, numberRulesBodyLimit)
	if errors.Is(err, errTooLarge) {
		x.Metrics.Alert(metrics.InvalidContentLength)
		x.fail(w, http.StatusRequestEntityTooLarge, excInvalid, "Request body exceeds the limit of 64 kB")
		return false
	}
	if err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, "Could not read the request body")
		return false
	}
	if err := requireJSON(r, b); err != nil {
		x.fail(w, http.StatusUnsupportedMediaType, excInvalid, err.Error())
		return false
	}
	if err := checkDuplicateKeys(b); err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, "Malformed "+what+": "+jsonProblem(err))
		return false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		x.fail(w, http.StatusBadRequest, excInvalid, "Malformed "+what+": "+truncate(jsonProblem(err), 200))
		return false
	}
	if d.More() {
		x.fail(w, http.StatusBadRequest, excInvalid, "Malformed "+what+": one JSON object expected")
		return false
	}
	return true
}

func (x *internal) listNumberRules(w http.ResponseWriter, r *http.Request) {
	if !x.numbersReady(w) {
		return
	}
	rs, err := x.Numbers.List(r.Context(), info(r.Context()).tenant)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	out := make([]ruleView, len(rs))
	for i, rule := range rs {
		out[i] = viewRule(rule)
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": out})
}

func (x *internal) getNumberRule(w http.ResponseWriter, r *http.Request) {
	if !x.numbersReady(w) {
		return
	}
	rule, err := x.Numbers.Get(r.Context(), info(r.Context()).tenant, param(r, "name"))
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRule(rule))
}

func (x *internal) putNumberRule(w http.ResponseWriter, r *http.Request) {
	if !x.numbersReady(w) {
		return
	}
	var body struct {
		Countries []string          `json:"countries"`
		Patterns  []numbers.Pattern `json:"patterns"`
		Services  []string          `json:"services"`
	}
	if !x.decodeStrict(w, r, "number rule", &body) {
		return
	}
	rule := &numbers.Rule{Name: param(r, "name"), Countries: body.Countries, Patterns: body.Patterns, Services: body.Services}
	if err := x.Numbers.Put(r.Context(), info(r.Context()).tenant, pausedBy(r), rule); err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRule(rule))
}

func (x *internal) deleteNumberRule(w http.ResponseWriter, r *http.Request) {
	if !x.numbersReady(w) {
		return
	}
	name := param(r, "name")
	if err := x.Numbers.Delete(r.Context(), info(r.Context()).tenant, name); err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "deleted": true})
}

func (x *internal) testNumber(w http.ResponseWriter, r *http.Request) {
	if !x.numbersReady(w) {
		return
	}
	var body struct {
		Number  string `json:"number"`
		Rule    string `json:"rule"`
		Service string `json:"service"`
	}
	if !x.decodeStrict(w, r, "number test", &body) {
		return
	}
	if body.Number == "" || (body.Rule == "" && body.Service == "") {
		x.fail(w, http.StatusBadRequest, excInvalid, "number and one of rule or service are required")
		return
	}
	v, err := x.Numbers.Test(r.Context(), info(r.Context()).tenant, body.Rule, body.Service, body.Number)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
