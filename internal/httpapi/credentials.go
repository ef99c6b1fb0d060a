package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/credentials"
)

var credentialKinds = map[string]bool{credentials.GWS: true, credentials.FCM: true, credentials.Captcha: true}

// credentialsLimit bounds a stored credential (a service-account key is a
// few kB).
const credentialsLimit = 64 * 1024

func (x *internal) credentialKind(w http.ResponseWriter, r *http.Request) (string, bool) {
	kind := param(r, "kind")
	if !credentialKinds[kind] {
		x.fail(w, http.StatusNotFound, excNotFound, "Unknown credentials kind "+kind+" (expected gws, fcm or captcha)")
		return "", false
	}
	if x.Credentials == nil {
		x.fail(w, http.StatusServiceUnavailable, excUnavailable, "Credential storage is not configured")
		return "", false
	}
	return kind, true
}

func (x *internal) credentialsError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, credentials.ErrNotFound):
		x.fail(w, http.StatusNotFound, excNotFound, "No "+param(r, "kind")+" credentials are stored for this contact center")
	case errors.Is(err, credentials.ErrNoKey):
		x.fail(w, http.StatusServiceUnavailable, excUnavailable, "Credential storage has no key: set CREDENTIALS-KEY")
	default:
		x.failErr(w, r, &callback.Error{Kind: callback.KindUnavailable, Msg: "Credential storage is unavailable", Err: err})
	}
}

// putCredentials stores a tenant's credentials of one kind (a JSON object).
func (x *internal) putCredentials(w http.ResponseWriter, r *http.Request) {
	kind, ok := x.credentialKind(w, r)
	if !ok {
		return
	}
	b, err := readBody(r, credentialsLimit)
	var probe map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(b, &probe)
	}
	if err != nil || probe == nil {
		x.fail(w, http.StatusBadRequest, excInvalid, "Expected the credentials as a JSON object")
		return
	}
	if check := x.CredentialChecks[kind]; check != nil {
		if err := check(b); err != nil {
			x.fail(w, http.StatusBadRequest, excInvalid, err.Error())
			return
		}
	}
	if err := x.Credentials.Put(r.Context(), tenantOf(r).ID, kind, b); err != nil {
		x.credentialsError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": kind, "configured": true})
}

// getCredentials tells whether credentials are stored; secrets never leave.
func (x *internal) getCredentials(w http.ResponseWriter, r *http.Request) {
	kind, ok := x.credentialKind(w, r)
	if !ok {
		return
	}
	_, at, err := x.Credentials.Get(r.Context(), tenantOf(r).ID, kind)
	if err != nil {
		x.credentialsError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": kind, "configured": true, "updatedAt": callback.FormatTime(at)})
}

func (x *internal) deleteCredentials(w http.ResponseWriter, r *http.Request) {
	kind, ok := x.credentialKind(w, r)
	if !ok {
		return
	}
	if err := x.Credentials.Delete(r.Context(), tenantOf(r).ID, kind); err != nil {
		x.credentialsError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": kind, "configured": false})
}
