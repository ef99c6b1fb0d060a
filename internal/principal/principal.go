// Package principal tells who calls an admin API of the internal port
// (data tables, stored credentials, Click-To-Call-In groups, session
// diagnostics): a Callback UI user, through their session, or a platform
// service such as Designer, through a service token of the deployment. The
// tenant follows from the principal; a header alone never names it.
package principal

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// Action is what an admin request does; sessions and tokens are allowed
// actions, not routes.
type Action string

// The actions of the admin APIs.
const (
	PublishTables     Action = "publish-tables"      // PUT/POST /ges/v1/datatables/{table}
	ReadTables        Action = "read-tables"         // GET /ges/v1/datatables/{table}
	ManageCredentials Action = "manage-credentials"  // /ges/v1/credentials/{kind}
	ReadCallin        Action = "read-callin"         // GET /ges/v1/callin/groups...
	ManageCallin      Action = "manage-callin"       // PUT/DELETE /ges/v1/callin/groups/{name}
	ReadSessions      Action = "read-sessions"       // GET /ges/v1/callbacks/{id}/session
	ReadPauses        Action = "read-pauses"         // GET /ges/v1/services/paused
	ManagePauses      Action = "manage-pauses"       // PUT/DELETE /ges/v1/services/{service}/pause
	ReadNumberRules   Action = "read-number-rules"   // GET /ges/v1/numbers/rules..., POST /ges/v1/numbers/test
	ManageNumberRules Action = "manage-number-rules" // PUT/DELETE /ges/v1/numbers/rules/{name}
)

// Every action, for a token that may do anything.
var Every = []Action{PublishTables, ReadTables, ManageCredentials, ReadCallin, ManageCallin, ReadSessions, ReadPauses, ManagePauses, ReadNumberRules, ManageNumberRules}

// Principal is who a request acts as.
type Principal struct {
	// Tenant is the contact center a UI session works on. A service acts
	// for the deployment and names the tenant of each request
	// (ContactCenterId), so it is empty then.
	Tenant  string
	Name    string // the user, or the token's name
	Service bool
}

// Errors of Authenticate. Any other error is a failure of the session
// store: the caller may try again.
var (
	ErrUnauthenticated = errors.New("no valid session or service token")
	ErrForbidden       = errors.New("not allowed to do this")
)

// Sessions authenticates a request by the Callback UI session it carries.
type Sessions interface {
	// Session returns the principal of the request's session if its roles
	// allow act: ErrUnauthenticated without a (live) session, ErrForbidden
	// when the roles do not allow it.
	Session(r *http.Request, act Action) (Principal, error)
}

// Token is a service credential: a bearer token and what it may do.
type Token struct {
	Name    string
	Secret  string // empty: the token is not configured
	Actions []Action
}

// Authenticator checks the callers of the admin APIs.
type Authenticator struct {
	Tokens   []Token
	Sessions Sessions // nil: tokens only
}

// Authenticate finds the principal of r allowed to do act. A request with
// an Authorization header is judged by its token alone, so that a wrong
// token is never rescued by a cookie the client happened to send.
func (a *Authenticator) Authenticate(r *http.Request, act Action) (Principal, error) {
	if a == nil {
		return Principal{}, ErrUnauthenticated
	}
	if h := r.Header.Get("Authorization"); h != "" {
		t, ok := a.token(h)
		switch {
		case !ok:
			return Principal{}, ErrUnauthenticated
		case !slices.Contains(t.Actions, act):
			return Principal{}, ErrForbidden
		}
		return Principal{Name: t.Name, Service: true}, nil
	}
	if a.Sessions == nil {
		return Principal{}, ErrUnauthenticated
	}
	return a.Sessions.Session(r, act)
}

// token finds the configured token of an Authorization header. Digests
// are compared, in constant time, so that neither the secret's bytes nor
// its length show in the time an answer takes; every token is compared.
func (a *Authenticator) token(header string) (Token, bool) {
	scheme, secret, _ := strings.Cut(strings.TrimSpace(header), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return Token{}, false
	}
	got := sha256.Sum256([]byte(secret))
	var found Token
	ok := false
	for _, t := range a.Tokens {
		if t.Secret == "" {
			continue
		}
		want := sha256.Sum256([]byte(t.Secret))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			found, ok = t, true
		}
	}
	return found, ok
}
