package gws_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/gws"
)

const ccid = "9e0c6b1e-2f3a-4b5c-8d7e-1f2a3b4c5d6e"

func servers(t *testing.T) (auth, env *httptest.Server) {
	fx := &fixture.Fixture{
		ContactCenters: []fixture.ContactCenter{{ID: ccid, Name: "Demo", APIKeys: []string{"demo-key"}}},
		Clients:        []fixture.Client{{ID: "ges-client", Secret: "ges-secret"}},
	}
	tokens := gws.NewTokens()
	auth = httptest.NewServer(gws.AuthHandler(fx.Clients, tokens, slog.New(slog.DiscardHandler)))
	env = httptest.NewServer(gws.EnvHandler(fx, tokens))
	t.Cleanup(auth.Close)
	t.Cleanup(env.Close)
	return auth, env
}

func call(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, body
}

func tokenRequest(t *testing.T, base string, form url.Values, user, pass string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, base+"/auth/v3/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return req
}

func token(t *testing.T, base string) string {
	code, body := call(t, tokenRequest(t, base, url.Values{"grant_type": {"client_credentials"}}, "ges-client", "ges-secret"))
	if code != http.StatusOK || body["token_type"] != "bearer" || body["expires_in"] != float64(3600) || body["access_token"] == "" {
		t.Fatalf("token = %d %v", code, body)
	}
	return body["access_token"].(string)
}

func TestAuthClientCredentials(t *testing.T) {
	auth, _ := servers(t)
	token(t, auth.URL)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"ges-client"}, "client_secret": {"ges-secret"}}
	if code, _ := call(t, tokenRequest(t, auth.URL, form, "", "")); code != http.StatusOK {
		t.Errorf("form credentials: %d", code)
	}
	code, body := call(t, tokenRequest(t, auth.URL, url.Values{"grant_type": {"client_credentials"}}, "ges-client", "wrong"))
	if code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("bad secret: %d %v", code, body)
	}
	if code, _ := call(t, tokenRequest(t, auth.URL, url.Values{"grant_type": {"password"}}, "ges-client", "ges-secret")); code != http.StatusBadRequest {
		t.Errorf("password grant: %d", code)
	}
}

func TestEnvironment(t *testing.T) {
	auth, env := servers(t)
	get := func(path, tok string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/environment/v3/contact-centers"+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return call(t, req)
	}
	if code, _ := get("/api-key/demo-key", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if code, _ := get("/api-key/demo-key", "forged"); code != http.StatusUnauthorized {
		t.Errorf("forged token: %d", code)
	}
	tok := token(t, auth.URL)
	code, body := get("/api-key/demo-key", tok)
	data, _ := body["data"].(map[string]any)
	if code != http.StatusOK || data["id"] != ccid || data["name"] != "Demo" {
		t.Errorf("by key: %d %v", code, body)
	}
	code, body = get("/api-key/nope", tok)
	st, _ := body["status"].(map[string]any)
	if code != http.StatusNotFound || st["code"] != float64(404) || st["message"] != "API key not found" {
		t.Errorf("unknown key: %d %v", code, body)
	}
	if code, body := get("/"+ccid, tok); code != http.StatusOK || body["data"].(map[string]any)["id"] != ccid {
		t.Errorf("by id: %d %v", code, body)
	}
	if code, _ := get("/00000000-0000-0000-0000-000000000000", tok); code != http.StatusNotFound {
		t.Errorf("unknown id: %d", code)
	}
	code, body = get("", tok)
	if all, _ := body["data"].([]any); code != http.StatusOK || len(all) != 1 {
		t.Errorf("list: %d %v", code, body)
	}
}
