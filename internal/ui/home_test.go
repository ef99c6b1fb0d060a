package ui

import (
	"net/url"
	"testing"
)

func TestHomeOfEveryRole(t *testing.T) {
	for role, want := range map[Role]string{
		RoleDevOps: "/ges/callbacks", RoleAdmin: "/ges/callbacks", RoleSupervisor: "/ges/callbacks",
		RoleMonitor: "/ges/callbacks", RoleDeveloper: "/ges/queues", Role("nobody"): "",
	} {
		if got := homeOf([]Role{role}); got != want {
			t.Errorf("homeOf(%s) = %q, want %q", role, got, want)
		}
	}
}

func TestGridHeaderSort(t *testing.T) {
	f, err := parseFilter(url.Values{"sort": {"phone"}, "service": {"S"}})
	if err != nil {
		t.Fatal(err)
	}
	h := f.header(false, "UTC")
	byLabel := map[string]headCell{}
	for _, c := range h {
		byLabel[c.Label] = c
	}
	if c := byLabel["Phone Number"]; c.Aria != "ascending" || c.URL != "/ges/callbacks?service=S&sort=-phone" {
		t.Errorf("phone header sorted ascending: %+v", c)
	}
	if c := byLabel["Desired Time (UTC)"]; c.Aria != "none" || c.URL != "/ges/callbacks?service=S&sort=desired" {
		t.Errorf("desired header: %+v", c)
	}
	if c := f.header(true, "UTC")[1]; c.Label != "Phone Number" || c.URL != "" {
		t.Errorf("masked phone is sortable: %+v", c)
	}
	if f, _ := parseFilter(url.Values{"sort": {"-ewt"}}); f.Sort != defaultSort {
		t.Errorf("unsortable column kept: %q", f.Sort)
	}
}
