package ui

import (
	"errors"
	"net/http"

	"github.com/gesgo/ges/internal/principal"
)

// adminRights are the rights a session needs for each action of the admin
// APIs under /ges/v1: the rights of the pages that do the same.
var adminRights = map[principal.Action]Right{
	principal.PublishTables:     UseDeveloper,
	principal.ReadTables:        UseDeveloper,
	principal.ManageCredentials: UseDeveloper,
	principal.ReadCallin:        ViewCallin,
	principal.ManageCallin:      ChangeCallin,
	principal.ReadSessions:      UseDeveloper,
	principal.ReadPauses:        ViewQueues,
	principal.ManagePauses:      ChangeCallbacks,
	principal.ReadNumberRules:   ManageNumbers,
	principal.ManageNumberRules: ManageNumbers,
}

// Session authenticates a request to an admin API by its Callback UI
// session (principal.Sessions): the tenant is the one the session works
// on. A change must come from the UI's own origin as well, as every form
// of the UI must.
func (u *UI) Session(r *http.Request, act principal.Action) (principal.Principal, error) {
	right, ok := adminRights[act]
	if !ok {
		return principal.Principal{}, principal.ErrForbidden
	}
	sess, err := u.sessionFor(r, right)
	switch {
	case errors.Is(err, errNoSession):
		return principal.Principal{}, principal.ErrUnauthenticated
	case errors.Is(err, errForbidden):
		return principal.Principal{}, principal.ErrForbidden
	case err != nil:
		return principal.Principal{}, err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
		return principal.Principal{}, principal.ErrForbidden
	}
	return principal.Principal{Tenant: sess.Tenant, Name: sess.User}, nil
}
