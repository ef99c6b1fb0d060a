package gws_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/gws"
)

const platformFixture = `{
  "contactCenters": [{"id": "` + ccid + `", "name": "Demo", "apiKeys": ["demo-key"]}],
  "clients": [
    {"id": "ges-client", "secret": "ges-secret"},
    {"id": "ui-client", "secret": "ui-secret", "redirectUris": ["http://127.0.0.1:1/ges/callback"]},
    {"id": "tenant-stats", "secret": "stats-secret"}
  ],
  "users": [
    {"username": "alice", "password": "alice-pw", "name": "Alice Admin", "accessGroups": ["Callback Administrators"], "ccid": "` + ccid + `"},
    {"username": "bob", "password": "bob-pw", "name": "Bob Monitor", "accessGroups": ["Sales Monitors"]}
  ],
  "accessGroups": [
    {"name": "Callback Administrators", "readScripts": ["*"], "roles": ["Callback Administrator"]},
    {"name": "Sales Monitors", "readScripts": ["VQ_Sales"], "roles": ["Callback Monitor"]}
  ],
  "statistics": {"values": [
    {"name": "CurrentNumberWaitingCalls", "objectId": "VQ_Sales", "objectType": "Queue", "value": 4},
    {"name": "TotalAnswered", "objectId": "VQ_Sales", "objectType": "Queue", "value": {"count": 12, "unit": "calls"}},
    {"name": "Secret", "objectId": "VQ_Sales", "objectType": "Queue", "value": 1, "client": "tenant-stats"}
  ]}
}`

const redirect = "http://127.0.0.1:1/ges/callback"

type platform struct {
	fx                         *fixture.Fixture
	auth, stats, config, admin *httptest.Server
}

func newPlatform(t *testing.T) platform {
	t.Helper()
	fx, err := fixture.Parse([]byte(platformFixture))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	tokens := gws.NewTokens()
	st := gws.NewStats(fx.Statistics, tokens, log)
	conf := gws.NewConfig(fx, tokens, log)
	r := chi.NewRouter()
	st.MountAdmin(r)
	conf.MountAdmin(r)
	p := platform{fx: fx,
		auth:   httptest.NewServer(gws.NewAuth(fx, tokens, log).Handler()),
		stats:  httptest.NewServer(st.Handler()),
		config: httptest.NewServer(conf.Handler()),
		admin:  httptest.NewServer(r),
	}
	for _, s := range []*httptest.Server{p.auth, p.stats, p.config, p.admin} {
		t.Cleanup(s.Close)
	}
	return p
}

// noRedirect stops at the authorization server's redirect, as a browser
// would hand it to GES.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// login signs in through the form and returns the code and state GES gets.
func login(t *testing.T, base, user, pass, state string) (int, url.Values) {
	t.Helper()
	form := url.Values{"response_type": {"code"}, "client_id": {"ui-client"}, "redirect_uri": {redirect},
		"state": {state}, "username": {user}, "password": {pass}}
	resp, err := noRedirect.PostForm(base+"/auth/v3/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirect+"?") {
		t.Fatalf("redirected to %q", resp.Header.Get("Location"))
	}
	return resp.StatusCode, loc.Query()
}

func exchange(t *testing.T, base string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	return call(t, tokenRequest(t, base, form, user, pass))
}

func bearerGet(t *testing.T, u, tok string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return call(t, req)
}

func TestAuthorizationCodeFlow(t *testing.T) {
	p := newPlatform(t)
	q := url.Values{"response_type": {"code"}, "client_id": {"ui-client"}, "redirect_uri": {redirect}, "state": {"s1"}}
	resp, err := noRedirect.Get(p.auth.URL + "/auth/v3/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), `name="password"`) || !strings.Contains(string(page), `value="s1"`) {
		t.Fatalf("login form: %d %s", resp.StatusCode, page)
	}

	bad := []url.Values{
		{"response_type": {"code"}, "client_id": {"nobody"}, "redirect_uri": {redirect}},
		{"response_type": {"code"}, "client_id": {"ui-client"}, "redirect_uri": {"http://evil.example/cb"}},
		{"response_type": {"code"}, "client_id": {"ges-client"}, "redirect_uri": {"not a url"}},
	}
	for _, b := range bad {
		resp, err := noRedirect.Get(p.auth.URL + "/auth/v3/oauth/authorize?" + b.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %d, want 400 without redirect", b, resp.StatusCode)
		}
	}
	q.Set("response_type", "token")
	resp, err = noRedirect.Get(p.auth.URL + "/auth/v3/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.Contains(loc, "error=unsupported_response_type") || !strings.Contains(loc, "state=s1") {
		t.Errorf("implicit grant: %d %q", resp.StatusCode, loc)
	}

	if code, _ := login(t, p.auth.URL, "alice", "wrong", "s2"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	_, got := login(t, p.auth.URL, "alice", "alice-pw", "s3")
	if got.Get("state") != "s3" || got.Get("code") == "" {
		t.Fatalf("redirect query %v", got)
	}
	codeForm := url.Values{"grant_type": {"authorization_code"}, "code": {got.Get("code")}, "redirect_uri": {redirect}}
	if code, body := exchange(t, p.auth.URL, codeForm, "ui-client", "nope"); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("bad client secret: %d %v", code, body)
	}
	if code, body := exchange(t, p.auth.URL, codeForm, "ges-client", "ges-secret"); code != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("code of another client: %d %v", code, body)
	}
	// The code was used up by the refused exchange above; sign in again.
	_, got = login(t, p.auth.URL, "alice", "alice-pw", "s4")
	codeForm.Set("code", got.Get("code"))
	code, body := exchange(t, p.auth.URL, codeForm, "ui-client", "ui-secret")
	if code != http.StatusOK || body["token_type"] != "bearer" || body["access_token"] == "" || body["refresh_token"] == "" {
		t.Fatalf("exchange: %d %v", code, body)
	}
	if code, body := exchange(t, p.auth.URL, codeForm, "ui-client", "ui-secret"); code != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("code reused: %d %v", code, body)
	}
	tok := body["access_token"].(string)

	code, info := bearerGet(t, p.auth.URL+"/auth/v3/userinfo", tok)
	if code != http.StatusOK || info["username"] != "alice" || info["name"] != "Alice Admin" || info["contactCenterId"] != ccid ||
		!equalList(info["accessGroups"], "Callback Administrators") || !equalList(info["roles"], "Callback Administrator") || info["clientId"] != "ui-client" {
		t.Errorf("userinfo: %d %v", code, info)
	}
	if code, _ := bearerGet(t, p.auth.URL+"/auth/v3/userinfo", "forged"); code != http.StatusUnauthorized {
		t.Errorf("userinfo with forged token: %d", code)
	}
	if code, _ := bearerGet(t, p.auth.URL+"/auth/v3/userinfo", token(t, p.auth.URL)); code != http.StatusForbidden {
		t.Errorf("userinfo with a client token: %d", code)
	}

	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}
	code, body = exchange(t, p.auth.URL, refresh, "ui-client", "ui-secret")
	if code != http.StatusOK || body["access_token"] == tok {
		t.Fatalf("refresh: %d %v", code, body)
	}
	if code, info := bearerGet(t, p.auth.URL+"/auth/v3/userinfo", body["access_token"].(string)); code != http.StatusOK || info["username"] != "alice" {
		t.Errorf("userinfo after refresh: %d %v", code, info)
	}
	if code, _ := exchange(t, p.auth.URL, refresh, "ges-client", "ges-secret"); code != http.StatusBadRequest {
		t.Errorf("refresh by another client: %d", code)
	}
	// A user token works on the other GWS services too.
	if code, _ := bearerGet(t, p.config.URL+"/configuration/v3/objects/persons", tok); code != http.StatusOK {
		t.Errorf("config with a user token: %d", code)
	}
}

func equalList(v any, want ...string) bool {
	list, ok := v.([]any)
	if !ok || len(list) != len(want) {
		return false
	}
	for i := range want {
		if list[i] != want[i] {
			return false
		}
	}
	return true
}

func postJSON(t *testing.T, u, tok, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return call(t, req)
}

func clientToken(t *testing.T, base, id, secret string) string {
	t.Helper()
	code, body := exchange(t, base, url.Values{"grant_type": {"client_credentials"}}, id, secret)
	if code != http.StatusOK {
		t.Fatalf("token for %s: %d %v", id, code, body)
	}
	return body["access_token"].(string)
}

func statistics(body map[string]any) []map[string]any {
	data, _ := body["data"].(map[string]any)
	list, _ := data["statistics"].([]any)
	out := []map[string]any{}
	for _, v := range list {
		out = append(out, v.(map[string]any))
	}
	return out
}

func TestStatistics(t *testing.T) {
	p := newPlatform(t)
	u := p.stats.URL + gws.StatsPath
	if code, _ := postJSON(t, u, "", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	tok := clientToken(t, p.auth.URL, "ges-client", "ges-secret")
	code, body := postJSON(t, u, tok, "")
	if st := statistics(body); code != http.StatusOK || len(st) != 2 || st[0]["value"] != 4.0 || st[0]["timestamp"] == nil {
		t.Fatalf("all: %d %v", code, body)
	}
	code, body = postJSON(t, u, tok, `{"data":{"statistics":[
		{"statisticId":"s1","name":"TotalAnswered","objectId":"VQ_Sales","objectType":"Queue"},
		{"name":"Nope","objectId":"VQ_Sales"}]}}`)
	st := statistics(body)
	if code != http.StatusOK || len(st) != 1 || st[0]["statisticId"] != "s1" || st[0]["value"].(map[string]any)["count"] != 12.0 || body["errors"] == nil {
		t.Fatalf("some: %d %v", code, body)
	}
	if code, _ := postJSON(t, u, tok, `{"data":`); code != http.StatusBadRequest {
		t.Errorf("bad body: %d", code)
	}
	// The tenant's own client sees its own value too.
	tenant := clientToken(t, p.auth.URL, "tenant-stats", "stats-secret")
	if _, body := postJSON(t, u, tenant, "{}"); len(statistics(body)) != 3 {
		t.Errorf("tenant client: %v", body)
	}

	if code, _ := postJSON(t, p.admin.URL+"/sim/stats/fail?count=2", "", ""); code != http.StatusOK {
		t.Fatal("arm failures")
	}
	for i := range 2 {
		if code, _ := postJSON(t, u, tok, ""); code != http.StatusInternalServerError {
			t.Errorf("failure %d: %d", i, code)
		}
	}
	if code, _ := postJSON(t, u, tok, ""); code != http.StatusOK {
		t.Errorf("after failures: %d", code)
	}
	postJSON(t, p.admin.URL+"/sim/stats/fail?status=503", "", "")
	if code, _ := postJSON(t, u, tok, ""); code != http.StatusServiceUnavailable {
		t.Errorf("every call failing: %d", code)
	}
	req, _ := http.NewRequest(http.MethodDelete, p.admin.URL+"/sim/stats/fail", nil)
	call(t, req)
	if code, _ := postJSON(t, u, tok, ""); code != http.StatusOK {
		t.Errorf("after clearing: %d", code)
	}
	if code, _ := postJSON(t, p.admin.URL+"/sim/stats/fail?status=404", "", ""); code != http.StatusBadRequest {
		t.Errorf("status 404 accepted: %d", code)
	}

	var calls gws.StatsCalls
	code, raw := bearerGet(t, p.admin.URL+"/sim/stats/calls", "")
	remarshal(t, raw, &calls)
	if code != http.StatusOK || calls.Calls != 9 || calls.ByClient["ges-client"] != 8 || calls.ByClient["tenant-stats"] != 1 ||
		calls.Unauthorized != 1 || calls.Fail.Applied != 3 {
		t.Errorf("calls = %d %+v", code, calls)
	}
	if code, _ := postJSON(t, p.admin.URL+"/sim/stats/values", "", `{"values":[{"name":"X","objectId":"VQ","objectType":"Queue","value":"v"}]}`); code != http.StatusOK {
		t.Fatalf("set values: %d", code)
	}
	if _, body := postJSON(t, u, tok, ""); len(statistics(body)) != 1 || statistics(body)[0]["value"] != "v" {
		t.Errorf("after setting values: %v", body)
	}
}

func TestConfiguration(t *testing.T) {
	p := newPlatform(t)
	base := p.config.URL + "/configuration/v3"
	if code, _ := bearerGet(t, base+"/objects/scripts", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	tok := token(t, p.auth.URL)
	tenant := []string{gws.CCIDHeader, ccid}

	code, body := postJSON(t, base+"/objects/scripts", tok, `{"data":{"name":"VQ_Sales","type":"VQProxy"}}`, tenant...)
	created, _ := body["data"].(map[string]any)
	if code != http.StatusCreated || created["name"] != "VQ_Sales" || created["dbid"] != 3001.0 || created["contactCenterId"] != ccid {
		t.Fatalf("create: %d %v", code, body)
	}
	if code, _ := postJSON(t, base+"/objects/scripts", tok, `{"name":"VQ_Sales"}`, tenant...); code != http.StatusConflict {
		t.Errorf("duplicate: %d", code)
	}
	if code, _ := postJSON(t, base+"/objects/scripts", tok, `{"name":"VQ_Sales"}`); code != http.StatusCreated {
		t.Errorf("same name without a contact center: %d", code)
	}
	if code, _ := postJSON(t, base+"/objects/scripts", tok, `{"name":"VQ_Support"}`, tenant...); code != http.StatusCreated {
		t.Errorf("second script: %d", code)
	}
	if code, _ := postJSON(t, base+"/objects/scripts", tok, `{"data":{}}`, tenant...); code != http.StatusBadRequest {
		t.Errorf("no name: %d", code)
	}
	if code, _ := postJSON(t, base+"/objects/scripts", tok, `{"name":"X"}`, gws.CCIDHeader, "00000000-0000-0000-0000-000000000000"); code != http.StatusNotFound {
		t.Errorf("unknown contact center: %d", code)
	}
	code, body = bearerGet(t, base+"/objects/scripts?name=VQ_Sales", tok, tenant...)
	if objs := body["data"].(map[string]any)["objects"].([]any); code != http.StatusOK || len(objs) != 1 {
		t.Errorf("by name: %d %v", code, body)
	}
	if code, _ := bearerGet(t, base+"/objects/scripts/3001", tok, tenant...); code != http.StatusOK {
		t.Errorf("by dbid: %d", code)
	}
	if code, _ := bearerGet(t, base+"/objects/scripts/3001", tok); code != http.StatusNotFound {
		t.Errorf("by dbid in another contact center: %d", code)
	}
	code, body = bearerGet(t, base+"/objects/scripts/3003/permissions", tok, tenant...)
	perms := body["data"].(map[string]any)["permissions"].([]any)
	if code != http.StatusOK || len(perms) != 1 || perms[0].(map[string]any)["accessGroup"] != "Callback Administrators" {
		t.Errorf("permissions of VQ_Support: %d %v", code, body)
	}

	perm := func(group, script string) (int, map[string]any) {
		return bearerGet(t, base+"/access-groups/"+url.PathEscape(group)+"/permissions/scripts/"+url.PathEscape(script), tok, tenant...)
	}
	for _, tc := range []struct {
		group, script string
		read          bool
	}{
		{"Sales Monitors", "VQ_Sales", true},
		{"Sales Monitors", "VQ_Support", false},
		{"Callback Administrators", "VQ_Support", true},
	} {
		code, body := perm(tc.group, tc.script)
		if data, _ := body["data"].(map[string]any); code != http.StatusOK || data["read"] != tc.read {
			t.Errorf("%s on %s: %d %v", tc.group, tc.script, code, body)
		}
	}
	if code, _ := perm("Nobody", "VQ_Sales"); code != http.StatusNotFound {
		t.Errorf("unknown group: %d", code)
	}
	if code, _ := perm("Sales Monitors", "VQ_Gone"); code != http.StatusNotFound {
		t.Errorf("unknown script: %d", code)
	}

	code, body = bearerGet(t, base+"/users/bob/access-groups", tok)
	groups := body["data"].(map[string]any)["accessGroups"].([]any)
	if code != http.StatusOK || len(groups) != 1 || groups[0].(map[string]any)["name"] != "Sales Monitors" {
		t.Errorf("bob's groups: %d %v", code, body)
	}
	if code, _ := bearerGet(t, base+"/users/carol/access-groups", tok); code != http.StatusNotFound {
		t.Errorf("unknown user: %d", code)
	}
	code, body = bearerGet(t, base+"/objects/persons?user_name=alice", tok)
	if objs := body["data"].(map[string]any)["objects"].([]any); code != http.StatusOK || len(objs) != 1 || objs[0].(map[string]any)["dbid"] != 1001.0 {
		t.Errorf("persons: %d %v", code, body)
	}
	code, body = bearerGet(t, base+"/objects/access-groups?name=Sales%20Monitors", tok)
	if objs := body["data"].(map[string]any)["objects"].([]any); code != http.StatusOK || len(objs) != 1 || !equalList(objs[0].(map[string]any)["members"], "bob") {
		t.Errorf("access groups: %d %v", code, body)
	}

	// Injected write failures: the next two writes fail, reads go on.
	if code, _ := postJSON(t, p.admin.URL+"/sim/config/fail?count=2", "", ""); code != http.StatusOK {
		t.Fatal("arm failures")
	}
	if code, _ := bearerGet(t, base+"/objects/scripts", tok, tenant...); code != http.StatusOK {
		t.Errorf("read while writes fail: %d", code)
	}
	if code, _ := postJSON(t, base+"/objects/scripts", tok, `{"name":"VQ_Extra"}`, tenant...); code != http.StatusInternalServerError {
		t.Errorf("failing create: %d", code)
	}
	del, _ := http.NewRequest(http.MethodDelete, base+"/objects/scripts/3001", nil)
	del.Header.Set("Authorization", "Bearer "+tok)
	del.Header.Set(gws.CCIDHeader, ccid)
	if code, _ := call(t, del); code != http.StatusInternalServerError {
		t.Errorf("failing delete: %d", code)
	}
	del, _ = http.NewRequest(http.MethodDelete, base+"/objects/scripts/3001", nil)
	del.Header.Set("Authorization", "Bearer "+tok)
	del.Header.Set(gws.CCIDHeader, ccid)
	if code, _ := call(t, del); code != http.StatusOK {
		t.Errorf("delete: %d", code)
	}
	var scripts []gws.Script
	resp, err := http.Get(p.admin.URL + "/sim/config/scripts")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&scripts)
	resp.Body.Close()
	if len(scripts) != 2 || scripts[0].Name != "VQ_Sales" || scripts[0].CCID != "" || scripts[1].Name != "VQ_Support" {
		t.Errorf("admin scripts = %+v", scripts)
	}
	postJSON(t, p.admin.URL+"/sim/config/fail?count=1&reads=true", "", "")
	if code, _ := bearerGet(t, base+"/objects/scripts", tok, tenant...); code != http.StatusInternalServerError {
		t.Errorf("read with reads=true: %d", code)
	}
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}
