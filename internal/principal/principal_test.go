package principal

import (
	"errors"
	"net/http/httptest"
	"testing"
)

func TestAuthenticate(t *testing.T) {
	a := &Authenticator{Tokens: []Token{
		{Name: "designer", Secret: "d-0123456789abcdef0123456789abcdef", Actions: []Action{PublishTables, ReadTables}},
		{Name: "unset", Secret: "", Actions: Every},
	}}
	cases := []struct {
		auth string
		act  Action
		want error
	}{
		{"", PublishTables, ErrUnauthenticated}, // no sessions configured
		{"Bearer d-0123456789abcdef0123456789abcdef", PublishTables, nil},
		{"bearer  d-0123456789abcdef0123456789abcdef ", ReadTables, nil},
		{"Bearer d-0123456789abcdef0123456789abcdef", ManageCredentials, ErrForbidden},
		{"Bearer d-0123456789abcdef0123456789abcde", PublishTables, ErrUnauthenticated},
		{"Bearer ", PublishTables, ErrUnauthenticated}, // the unset token never matches
		{"Basic d-0123456789abcdef0123456789abcdef", PublishTables, ErrUnauthenticated},
	}
	for _, c := range cases {
		r := httptest.NewRequest("PUT", "/ges/v1/datatables/CALLBACK_SETTINGS", nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		p, err := a.Authenticate(r, c.act)
		if !errors.Is(err, c.want) {
			t.Errorf("%q %s: %v, want %v", c.auth, c.act, err, c.want)
		}
		if err == nil && (!p.Service || p.Name != "designer" || p.Tenant != "") {
			t.Errorf("%q: principal %+v", c.auth, p)
		}
	}
	var none *Authenticator
	if _, err := none.Authenticate(httptest.NewRequest("GET", "/", nil), ReadTables); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("nil authenticator: %v", err)
	}
}
