package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/numbers"
)

const numbersPath = "/ges/tools/numbers"

// ruleForm is a rule as the form of Tools > Permitted & Blocked Numbers
// shows it: the patterns as text, one a line.
type ruleForm struct {
	Name, Countries, Simple, Regex string
	Services                       []string
}

func formOf(r *numbers.Rule) ruleForm {
	f := ruleForm{Name: r.Name, Countries: strings.Join(r.Countries, ", "), Services: r.Services}
	var simple, regex []string
	for _, p := range r.Patterns {
		if p.Regex {
			regex = append(regex, p.Value)
		} else {
			simple = append(simple, p.Value)
		}
	}
	f.Simple, f.Regex = strings.Join(simple, "\n"), strings.Join(regex, "\n")
	return f
}

// numbersData is what numbers.html gets.
func (u *UI) numbersData(r *http.Request, sess *Session) (map[string]any, int) {
	data := map[string]any{"Available": u.d.Numbers != nil, "Services": u.services(r.Context(), sess)}
	if u.d.Numbers == nil {
		return data, http.StatusOK
	}
	rules, err := u.d.Numbers.List(r.Context(), sess.Tenant)
	if err != nil {
		data["Error"] = "The rules cannot be read now: " + err.Error()
		return data, http.StatusServiceUnavailable
	}
	data["Rules"] = rules
	if name := r.URL.Query().Get("edit"); name != "" {
		for _, rule := range rules {
			if rule.Name == name {
				data["Edit"] = formOf(rule)
			}
		}
	}
	return data, http.StatusOK
}

// numbersPage lists a tenant's number rules, with the forms to create,
// edit and delete them and to test a number.
func (u *UI) numbersPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	data, code := u.numbersData(r, sess)
	u.render(w, r, code, "numbers", sess, data)
}

// lines splits a form's text into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// putNumberRule creates or replaces a rule from the form.
func (u *UI) putNumberRule(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if u.d.Numbers == nil {
		u.fail(w, r, http.StatusNotFound, "Number rules are not available.")
		return
	}
	if err := r.ParseForm(); err != nil {
		u.flash(w, r, "error", "The form could not be read.", numbersPath)
		return
	}
	rule := &numbers.Rule{Name: strings.TrimSpace(r.PostFormValue("name")),
		Countries: strings.FieldsFunc(r.PostFormValue("countries"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == ';' })}
	for _, p := range lines(r.PostFormValue("simple")) {
		rule.Patterns = append(rule.Patterns, numbers.Pattern{Value: p})
	}
	for _, p := range lines(r.PostFormValue("regex")) {
		rule.Patterns = append(rule.Patterns, numbers.Pattern{Value: p, Regex: true})
	}
	// Only the services the user sees may be assigned.
	visible := u.services(r.Context(), sess)
	for _, s := range r.PostForm["services"] {
		for _, v := range visible {
			if s == v {
				rule.Services = append(rule.Services, s)
			}
		}
	}
	back := numbersPath
	if rule.Name != "" {
		back += "?edit=" + url.QueryEscape(rule.Name)
	}
	if err := u.d.Numbers.Put(r.Context(), sess.Tenant, sess.User, rule); err != nil {
		u.flash(w, r, "error", "Rule not saved: "+err.Error(), back)
		return
	}
	u.flash(w, r, "ok", "Rule "+rule.Name+" saved.", numbersPath)
}

// deleteNumberRule deletes a rule: its services take every number again.
func (u *UI) deleteNumberRule(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if u.d.Numbers == nil {
		u.fail(w, r, http.StatusNotFound, "Number rules are not available.")
		return
	}
	name := chi.URLParam(r, "rule")
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	if err := u.d.Numbers.Delete(r.Context(), sess.Tenant, name); err != nil {
		u.flash(w, r, "error", "Rule not deleted: "+err.Error(), numbersPath)
		return
	}
	u.flash(w, r, "ok", "Rule "+name+" deleted.", numbersPath)
}

// testNumberRule judges a number under a rule, or under the rule of a
// service with the service's options, and shows the verdict on the page.
func (u *UI) testNumberRule(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if u.d.Numbers == nil {
		u.fail(w, r, http.StatusNotFound, "Number rules are not available.")
		return
	}
	data, code := u.numbersData(r, sess)
	number := strings.TrimSpace(r.PostFormValue("number"))
	target := r.PostFormValue("target") // "rule:<name>" or "service:<name>"
	kind, name, _ := strings.Cut(target, ":")
	data["TestNumber"], data["TestTarget"] = number, target
	if number == "" || name == "" {
		data["TestError"] = "Enter a number and pick a rule or a service."
		u.render(w, r, http.StatusBadRequest, "numbers", sess, data)
		return
	}
	rule, service := name, ""
	if kind == "service" {
		rule, service = "", name
	}
	v, err := u.d.Numbers.Test(r.Context(), sess.Tenant, rule, service, number)
	if err != nil {
		data["TestError"] = err.Error()
		code = http.StatusBadRequest
		if callback.KindOf(err) == callback.KindUnavailable {
			code = http.StatusServiceUnavailable
		}
		u.render(w, r, code, "numbers", sess, data)
		return
	}
	data["Verdict"] = v
	u.render(w, r, code, "numbers", sess, data)
}
