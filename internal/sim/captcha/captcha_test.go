package captcha_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/captcha"
	"github.com/gesgo/ges/internal/sim/fixture"
)

func setup(t *testing.T) (verify, admin *httptest.Server) {
	t.Helper()
	fx, err := fixture.Parse([]byte(`{"captcha":{"secret":"tenant-a-secret","secrets":["tenant-b-secret"],"hostname":"ges.example"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := captcha.New(fx.Captcha, slog.New(slog.DiscardHandler))
	r := chi.NewRouter()
	s.MountAdmin(r)
	verify, admin = httptest.NewServer(s.Handler()), httptest.NewServer(r)
	t.Cleanup(verify.Close)
	t.Cleanup(admin.Close)
	return verify, admin
}

func issue(t *testing.T, admin, query string) captcha.Issued {
	t.Helper()
	resp, err := http.Post(admin+"/sim/captcha/token"+query, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out captcha.Issued
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		t.Fatalf("issue: %d %v %+v", resp.StatusCode, err, out)
	}
	return out
}

func siteverify(t *testing.T, base string, form url.Values) captcha.Answer {
	t.Helper()
	resp, err := http.PostForm(base+captcha.VerifyPath, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a captcha.Answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("siteverify: %d %v", resp.StatusCode, err)
	}
	return a
}

func TestSiteverify(t *testing.T) {
	verify, admin := setup(t)
	tok := issue(t, admin.URL, "")
	if time.Until(tok.ExpiresAt) > captcha.TokenTTL || time.Until(tok.ExpiresAt) < captcha.TokenTTL-time.Minute {
		t.Errorf("expiry %v", tok.ExpiresAt)
	}

	fails := []struct {
		form url.Values
		want string
	}{
		{url.Values{"response": {tok.Token}}, captcha.MissingSecret},
		{url.Values{"secret": {"wrong"}, "response": {tok.Token}}, captcha.InvalidSecret},
		{url.Values{"secret": {"tenant-a-secret"}}, captcha.MissingResponse},
		{url.Values{"secret": {"tenant-a-secret"}, "response": {"made-up"}}, captcha.InvalidResponse},
	}
	for _, f := range fails {
		if a := siteverify(t, verify.URL, f.form); a.Success || len(a.ErrorCodes) != 1 || a.ErrorCodes[0] != f.want {
			t.Errorf("%v: %+v, want %s", f.form, a, f.want)
		}
	}
	// Failed attempts above did not use the token up.
	ok := url.Values{"secret": {"tenant-b-secret"}, "response": {tok.Token}, "remoteip": {"192.0.2.1"}}
	a := siteverify(t, verify.URL, ok)
	if !a.Success || a.Hostname != "ges.example" || a.ChallengeTS == "" || len(a.ErrorCodes) != 0 || a.Score != nil {
		t.Fatalf("valid token: %+v", a)
	}
	if a := siteverify(t, verify.URL, ok); a.Success || a.ErrorCodes[0] != captcha.Duplicate {
		t.Errorf("reused token: %+v", a)
	}

	expired := issue(t, admin.URL, "?ttlMs=0")
	if a := siteverify(t, verify.URL, url.Values{"secret": {"tenant-a-secret"}, "response": {expired.Token}}); a.Success || a.ErrorCodes[0] != captcha.Duplicate {
		t.Errorf("expired token: %+v", a)
	}
	v3 := issue(t, admin.URL, "?score=0.3&action=callback&hostname=app.example")
	a = siteverify(t, verify.URL, url.Values{"secret": {"tenant-a-secret"}, "response": {v3.Token}})
	if !a.Success || a.Score == nil || *a.Score != 0.3 || a.Action != "callback" || a.Hostname != "app.example" {
		t.Errorf("v3 token: %+v", a)
	}

	resp, err := http.Get(admin.URL + "/sim/captcha/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var calls captcha.Calls
	_ = json.NewDecoder(resp.Body).Decode(&calls)
	if calls.Verifications != 8 || calls.Success != 2 || calls.ByError[captcha.Duplicate] != 2 || calls.ByError[captcha.InvalidSecret] != 1 {
		t.Errorf("calls = %+v", calls)
	}
	for _, q := range []string{"?ttlMs=-1", "?score=2"} {
		resp, err := http.Post(admin.URL+"/sim/captcha/token"+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", q, resp.StatusCode)
		}
	}
}
