package ui

import (
	"slices"
	"strings"
)

// Role is a Callback UI role (domain §6.2).
type Role string

// The roles, from most to least powerful; DevOps is the platform operator.
const (
	RoleDevOps     Role = "DevOps"
	RoleAdmin      Role = "Callback Administrator"
	RoleSupervisor Role = "Callback Supervisor"
	RoleMonitor    Role = "Callback Monitor"
	RoleDeveloper  Role = "Callback Developer"
)

// Right is something a page or action needs.
type Right string

// Rights of the UI. Each handler asks for one; the server refuses (403)
// what the role lacks, whatever the page showed.
const (
	ViewCallbacks   Right = "view-callbacks"
	ChangeCallbacks Right = "change-callbacks" // create, reschedule, cancel
	ExportCallbacks Right = "export-callbacks" // CSV
	ViewQueues      Right = "view-queues"
	ViewCallin      Right = "view-callin"
	ChangeCallin    Right = "change-callin"
	UseDeveloper    Right = "developer"
	PickTenant      Right = "pick-tenant"
	ReadProfiles    Right = "profiles"       // the node's runtime profiles (/debug/pprof/)
	ViewCapacity    Right = "view-capacity"  // Tools > Capacity (read)
	ViewRegions     Right = "view-regions"   // Tools > Region Affinity
	ManageNumbers   Right = "manage-numbers" // Tools > Permitted & Blocked Numbers
)

var rights = map[Role][]Right{
	RoleDevOps:     {ViewCallbacks, ChangeCallbacks, ExportCallbacks, ViewQueues, ViewCallin, ChangeCallin, UseDeveloper, PickTenant, ReadProfiles, ViewCapacity, ViewRegions, ManageNumbers},
	RoleAdmin:      {ViewCallbacks, ChangeCallbacks, ExportCallbacks, ViewQueues, ViewCallin, ChangeCallin, UseDeveloper, ReadProfiles, ViewCapacity, ViewRegions, ManageNumbers},
	RoleSupervisor: {ViewCallbacks, ChangeCallbacks, ExportCallbacks, ViewQueues, ViewCallin, ViewCapacity, ManageNumbers},
	RoleMonitor:    {ViewCallbacks, ViewQueues, ViewCallin, ViewCapacity},
	RoleDeveloper:  {ViewQueues, UseDeveloper, ViewCapacity, ManageNumbers},
}

// Can tells whether any of the roles grants the right.
func Can(roles []Role, r Right) bool {
	for _, role := range roles {
		if slices.Contains(rights[role], r) {
			return true
		}
	}
	return false
}

// AccessGroup is one of a user's access groups with the role names
// GWS reports for it.
type AccessGroup struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// roleNames maps role names (case-insensitive) to UI roles; Viewer is
// the older name of Monitor.
var roleNames = map[string]Role{
	"callback administrator": RoleAdmin,
	"callback supervisor":    RoleSupervisor,
	"callback monitor":       RoleMonitor,
	"callback viewer":        RoleMonitor,
	"callback developer":     RoleDeveloper,
}

// RolesOf maps access groups to UI roles: a group's role names first,
// then the default group names (`<Company> Administrators`, `Supervisors`,
// `Managers`, `Callback Developers`, `Monitors`), and DevOps for the
// groups of DEVOPS_ACCESS_GROUPS. The result is ordered by power.
func RolesOf(groups []AccessGroup, devopsGroups []string) []Role {
	set := map[Role]bool{}
	for _, g := range groups {
		for _, rn := range g.Roles {
			if r, ok := roleNames[strings.ToLower(strings.TrimSpace(rn))]; ok {
				set[r] = true
			}
		}
		name := strings.ToLower(strings.TrimSpace(g.Name))
		for _, d := range devopsGroups {
			if strings.EqualFold(strings.TrimSpace(d), g.Name) {
				set[RoleDevOps] = true
			}
		}
		switch {
		case name == "callback developers":
			set[RoleDeveloper] = true
		case strings.HasSuffix(name, " administrators"):
			set[RoleAdmin] = true
		case strings.HasSuffix(name, " supervisors"), strings.HasSuffix(name, " managers"):
			set[RoleSupervisor] = true
		case strings.HasSuffix(name, " monitors"), strings.HasSuffix(name, " viewers"):
			set[RoleMonitor] = true
		}
	}
	var out []Role
	for _, r := range []Role{RoleDevOps, RoleAdmin, RoleSupervisor, RoleMonitor, RoleDeveloper} {
		if set[r] {
			out = append(out, r)
		}
	}
	return out
}
