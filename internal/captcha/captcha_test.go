package captcha

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/credentials"
)

func TestCheckCredentials(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"enabled":true,"secret":"s"}`:       true,
		`{"enabled":false}`:                   true,
		`{"enabled":false,"secret":""}`:       true,
		`{"enabled":true}`:                    false,
		`{"enabled":true,"secret":"  "}`:      false,
		`{"secret":"s"}`:                      false,
		`{"enabled":"true","secret":"s"}`:     false,
		`{"enabled":null,"secret":"s"}`:       false,
		`{"enabled":true,"secret":"s","x":1}`: false,
		`[]`:                                  false,
	} {
		if err := CheckCredentials([]byte(in)); (err == nil) != ok {
			t.Errorf("CheckCredentials(%s) = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		r    Result
		kind callback.Kind
	}{
		{Result{Success: true}, 0},
		{Result{ErrorCodes: []string{"timeout-or-duplicate"}}, callback.KindInvalid},
		{Result{ErrorCodes: []string{"invalid-input-response"}}, callback.KindInvalid},
		{Result{}, callback.KindInvalid},
		{Result{ErrorCodes: []string{"invalid-input-secret"}}, callback.KindUnavailable},
	} {
		if k := callback.KindOf(Outcome("t", &c.r)); k != c.kind {
			t.Errorf("Outcome(%+v) kind %v, want %v", c.r, k, c.kind)
		}
	}
}

type secrets map[string]string

func (s secrets) Get(_ context.Context, tenant, kind string) ([]byte, time.Time, error) {
	if v, ok := s[tenant+"/"+kind]; ok {
		return []byte(v), time.Time{}, nil
	}
	return nil, time.Time{}, credentials.ErrNotFound
}

func TestCheckCaptchaOutage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	v := New(srv.URL, secrets{"on/captcha": `{"enabled":true,"secret":"s"}`, "off/captcha": `{"enabled":false}`})
	ctx := context.Background()
	if k := callback.KindOf(v.CheckCaptcha(ctx, "on", "tok")); k != callback.KindUnavailable {
		t.Errorf("outage: kind %v, want unavailable", k)
	}
	if k := callback.KindOf(v.CheckCaptcha(ctx, "on", "")); k != callback.KindInvalid {
		t.Errorf("no token: kind %v, want invalid", k)
	}
	if err := v.CheckCaptcha(ctx, "off", ""); err != nil {
		t.Errorf("off: %v", err)
	}
	if err := v.CheckCaptcha(ctx, "none", ""); err != nil {
		t.Errorf("nothing stored: %v", err)
	}
}
