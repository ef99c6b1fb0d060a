package ui

import (
	"slices"
	"testing"
	"time"
)

func TestRolesOf(t *testing.T) {
	devops := []string{"Platform Provisioning"}
	cases := []struct {
		groups []AccessGroup
		want   []Role
	}{
		{[]AccessGroup{{Name: "Callback Administrators", Roles: []string{"Callback Administrator"}}}, []Role{RoleAdmin}},
		{[]AccessGroup{{Name: "Acme Supervisors"}}, []Role{RoleSupervisor}},
		{[]AccessGroup{{Name: "Acme Managers"}}, []Role{RoleSupervisor}},
		{[]AccessGroup{{Name: "Sales Monitors", Roles: []string{"Callback Monitor"}}}, []Role{RoleMonitor}},
		{[]AccessGroup{{Name: "Readers", Roles: []string{"callback viewer"}}}, []Role{RoleMonitor}},
		{[]AccessGroup{{Name: "Callback Developers"}}, []Role{RoleDeveloper}},
		{[]AccessGroup{{Name: "platform provisioning"}}, []Role{RoleDevOps}},
		{[]AccessGroup{{Name: "Sales Monitors"}, {Name: "Callback Developers"}}, []Role{RoleMonitor, RoleDeveloper}},
		{[]AccessGroup{{Name: "Everyone"}}, nil},
	}
	for _, c := range cases {
		if got := RolesOf(c.groups, devops); !slices.Equal(got, c.want) {
			t.Errorf("RolesOf(%v) = %v, want %v", c.groups, got, c.want)
		}
	}
}

func TestRights(t *testing.T) {
	if Can([]Role{RoleMonitor}, ChangeCallbacks) || Can([]Role{RoleMonitor}, ExportCallbacks) || Can([]Role{RoleMonitor}, UseDeveloper) {
		t.Error("a monitor may change, export or use the Developer tab")
	}
	if !Can([]Role{RoleSupervisor}, ChangeCallbacks) || Can([]Role{RoleSupervisor}, UseDeveloper) {
		t.Error("supervisor rights")
	}
	if !Can([]Role{RoleDeveloper}, UseDeveloper) || Can([]Role{RoleDeveloper}, ViewCallbacks) {
		t.Error("developer rights")
	}
	if !Can([]Role{RoleMonitor, RoleDeveloper}, UseDeveloper) || Can(nil, ViewQueues) {
		t.Error("rights of several roles, or of none")
	}
	for _, r := range []Role{RoleDevOps, RoleAdmin} {
		if !Can([]Role{r}, ReadProfiles) {
			t.Errorf("%s may not read profiles", r)
		}
	}
	for _, r := range []Role{RoleSupervisor, RoleMonitor, RoleDeveloper} {
		if Can([]Role{r}, ReadProfiles) {
			t.Errorf("%s may read profiles", r)
		}
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"+15551230001": "+15551230001", "-12": "-12", "=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0", "@SUM(A1)": "'@SUM(A1)", "plain": "plain", "": "",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	if got := maskPhone("+15557770001"); got != "••••••••0001" {
		t.Errorf("maskPhone = %q", got)
	}
	if got := maskPhone("123"); got != "•••" {
		t.Errorf("maskPhone short = %q", got)
	}
}

func TestTemplatesParse(t *testing.T) {
	u := New(Deps{})
	for _, p := range []string{"login", "error", "callbacks", "callback", "queues", "callin", "callin_group", "developer"} {
		if u.pages[p] == nil {
			t.Errorf("page %s missing", p)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 5 * time.Minute: "5m", 90 * time.Second: "1m30s", time.Hour + 30*time.Minute: "1h30m", 10 * time.Second: "10s"} {
		if got := shortDuration(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
