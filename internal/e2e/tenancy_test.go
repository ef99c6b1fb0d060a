package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gesgo/ges/internal/testenv"
)

// adminDo sends one request to the internal port with exactly the headers
// given (no service token is added, unlike Node.Internal).
func adminDo(t *testing.T, n *testenv.Node, method, path string, h http.Header, body any) *testenv.Response {
	t.Helper()
	if h == nil {
		h = http.Header{}
	}
	r, err := testenv.Do(method, n.InternalURL+path, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// tableVersion is the version of the tenant's CALLBACK_SETTINGS, read
// with the admin token.
func tableVersion(t *testing.T, n *testenv.Node, ccid string) string {
	t.Helper()
	code, b := n.Internal(t, "GET", "/ges/v1/datatables/CALLBACK_SETTINGS", ccid, nil)
	if code != 200 {
		t.Fatalf("reading the table of %s: %d %s", ccid, code, b)
	}
	var v struct {
		Version json.Number `json:"version"`
	}
	decode(t, b, &v)
	return v.Version.String()
}

// The admin APIs under /ges/v1 need a principal: a tenant header alone is
// 401 and changes nothing; a service token acts on the tenant its header
// names, within what the token allows; a Callback UI session acts on its
// own tenant, within what its roles allow. The GMS API keeps the header.
func TestAdminAPIsNeedAPrincipal(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	demo, other := demoCCID(s), otherCCID(s)
	table := map[string]any{"table": "CALLBACK_SETTINGS", "rows": []map[string]any{
		{"key": "Callback_Takeover", "columns": map[string]any{"Capacity": 1}}}}
	captcha := map[string]any{"enabled": true, "secret": "attacker-secret"}
	group := map[string]any{"numbers": []string{"+18005550199"}}
	before := tableVersion(t, n, demo)

	type call struct {
		method, path string
		body         any
	}
	calls := []call{
		{"PUT", "/ges/v1/datatables/CALLBACK_SETTINGS", table},
		{"POST", "/ges/v1/datatables/CALLBACK_SETTINGS", table},
		{"GET", "/ges/v1/datatables/CALLBACK_SETTINGS", nil},
		{"PUT", "/ges/v1/credentials/captcha", captcha},
		{"GET", "/ges/v1/credentials/captcha", nil},
		{"DELETE", "/ges/v1/credentials/captcha", nil},
		{"PUT", "/ges/v1/credentials/gws", map[string]any{"clientId": "x", "clientSecret": "y"}},
		{"PUT", "/ges/v1/callin/groups/takeover", group},
		{"GET", "/ges/v1/callin/groups", nil},
		{"GET", "/ges/v1/callin/groups/takeover", nil},
		{"DELETE", "/ges/v1/callin/groups/takeover", nil},
		{"GET", "/ges/v1/callbacks/00000000-0000-4000-8000-000000000000/session", nil},
	}
	for _, h := range []http.Header{
		headers("ContactCenterId", demo),
		headers("x-ccid", demo),
		headers("ContactCenterId", demo, "Authorization", "Bearer "+testenv.AdminToken+"x"),
		headers("ContactCenterId", demo, "Authorization", "Bearer "),
		headers("ContactCenterId", demo, "Authorization", "Basic "+testenv.AdminToken),
		headers("ContactCenterId", demo, "Cookie", "ges_session=not-a-session"),
	} {
		for _, c := range calls {
			r := adminDo(t, n, c.method, c.path, h, c.body)
			var e gmsErr
			if r.Status != 401 || json.Unmarshal(r.Body, &e) != nil || e.Exception == "" ||
				!strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with %v: %d %s %q", c.method, c.path, h, r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
			}
		}
	}
	// Nothing of it landed.
	if got := tableVersion(t, n, demo); got != before {
		t.Fatalf("the table changed from version %s to %s", before, got)
	}
	if code, b := n.Internal(t, "GET", "/ges/v1/credentials/captcha", demo, nil); code != 404 {
		t.Fatalf("CAPTCHA credentials after the refused calls: %d %s", code, b)
	}
	if code, b := n.Internal(t, "GET", "/ges/v1/callin/groups/takeover", demo, nil); code != 404 {
		t.Fatalf("call-in group after the refused calls: %d %s", code, b)
	}

	// Designer's token publishes and reads tables, and nothing else.
	designer := headers("ContactCenterId", demo, "Authorization", "Bearer "+testenv.DesignerToken)
	if r := adminDo(t, n, "GET", "/ges/v1/datatables/CALLBACK_SETTINGS", designer, nil); r.Status != 200 {
		t.Fatalf("Designer reads the table: %d %s", r.Status, r.Body)
	}
	for _, c := range calls[3:] {
		if r := adminDo(t, n, c.method, c.path, designer, c.body); r.Status != 403 {
			t.Errorf("Designer's token on %s %s: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	// A token acts on the tenant its header names, and needs one.
	admin := headers("Authorization", "Bearer "+testenv.AdminToken)
	if r := adminDo(t, n, "GET", "/ges/v1/datatables/CALLBACK_SETTINGS", admin, nil); r.Status != 400 {
		t.Fatalf("a token without a tenant: %d %s", r.Status, r.Body)
	}

	// A UI session: an administrator of Demo reads Demo's table, never
	// another tenant's, whatever header it sends.
	ada := gwsSignIn(t, n, "admin", "admin-pw")
	sessionCall := func(c *http.Client, method, path string, h http.Header, body any) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, n.InternalURL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h.Clone()
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, b := sessionCall(ada, "GET", "/ges/v1/datatables/CALLBACK_SETTINGS", http.Header{}, nil)
	if code != 200 || !strings.Contains(b, "Callback_Sales") {
		t.Fatalf("administrator's session reads its table: %d %.300s", code, b)
	}
	if code, b := sessionCall(ada, "GET", "/ges/v1/datatables/CALLBACK_SETTINGS", headers("ContactCenterId", other), nil); code != 400 {
		t.Fatalf("administrator's session naming another tenant: %d %.300s", code, b)
	}
	// A change from another site is refused; from the UI's origin (or a
	// tool sending none) it lands on the session's tenant only.
	otherBefore := tableVersion(t, n, other)
	var full struct {
		Rows []map[string]any `json:"rows"`
	}
	_, raw := n.Internal(t, "GET", "/ges/v1/datatables/CALLBACK_SETTINGS", demo, nil)
	decode(t, raw, &full)
	republish := map[string]any{"table": "CALLBACK_SETTINGS", "rows": full.Rows}
	if code, b := sessionCall(ada, "PUT", "/ges/v1/datatables/CALLBACK_SETTINGS", headers("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), republish); code != 403 {
		t.Fatalf("a cross-site publish with the session: %d %.300s", code, b)
	}
	if code, b := sessionCall(ada, "PUT", "/ges/v1/datatables/CALLBACK_SETTINGS", headers("Origin", n.InternalURL), republish); code != 200 {
		t.Fatalf("a same-origin publish with the session: %d %.300s", code, b)
	}
	if got := tableVersion(t, n, demo); got == before {
		t.Fatal("the session's publish did not reach its tenant")
	}
	if got := tableVersion(t, n, other); got != otherBefore {
		t.Fatalf("the session's publish reached another tenant: %s → %s", otherBefore, got)
	}
	// Roles decide: a monitor sees call-in groups but not the tables.
	mo := gwsSignIn(t, n, "monitor", "monitor-pw")
	if code, b := sessionCall(mo, "GET", "/ges/v1/datatables/CALLBACK_SETTINGS", http.Header{}, nil); code != 403 {
		t.Fatalf("monitor reads the table: %d %.300s", code, b)
	}
	if code, b := sessionCall(mo, "GET", "/ges/v1/callin/groups", http.Header{}, nil); code != 200 {
		t.Fatalf("monitor lists call-in groups: %d %.300s", code, b)
	}
	if code, b := sessionCall(mo, "PUT", "/ges/v1/callin/groups/takeover", http.Header{}, group); code != 403 {
		t.Fatalf("monitor changes a call-in group: %d %.300s", code, b)
	}

	// The GMS API keeps the shared-GMS header: ORS sends nothing else.
	r := adminDo(t, n, "GET", "/genesys/1/service/callback?_id=00000000-0000-4000-8000-000000000000", headers("ContactCenterId", demo), nil)
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "[]" {
		t.Fatalf("GMS query with the header: %d %s", r.Status, r.Body)
	}
}

type gmsErr struct {
	Exception string `json:"exception"`
	Message   string `json:"message"`
}

// Ids that are not UUIDs are unknown callbacks: 404 in each API's envelope
// (an empty array for ?_id=), never a store's 503. The external API keeps
// 400 for a malformed id in its body (engagement-api A14).
func TestIDsThatAreNotUUIDs(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	demo := demoCCID(s)
	ada := gwsSignIn(t, n, "admin", "admin-pw")
	bad := []string{
		"abc",
		"12345",
		"' OR 1=1 --",
		"00000000-0000-0000-0000-00000000000g",
		"00000000-0000-4000-8000-0000000000000",
		"{00000000-0000-4000-8000-000000000000}",
		"urn:uuid:00000000-0000-4000-8000-000000000000",
		"00000000000040008000000000000000",
		"x\x00y",
		"\xff\xfe",
		strings.Repeat("9", 2000),
	}
	for _, id := range bad {
		esc := url.PathEscape(id)
		gms := []struct{ method, path string }{
			{"GET", "/genesys/1/service/callback/Callback_Sales/" + esc},
			{"DELETE", "/genesys/1/service/callback/Callback_Sales/" + esc},
			{"PUT", "/genesys/1/service/callback/Callback_Sales/" + esc},
			{"POST", "/genesys/1/service/callback/Callback_Sales/" + esc},
			{"GET", "/genesys/1/service/" + esc + "/check-queue-position"},
			{"POST", "/genesys/1/service/" + esc + "/check-queue-position"},
			{"GET", "/ges/v1/callbacks/" + esc + "/session"},
		}
		for _, c := range gms {
			var body any
			if c.method == "PUT" || c.method == "POST" {
				body = map[string]string{"_callback_state": "QUEUED"}
			}
			code, b := n.Internal(t, c.method, c.path, demo, body)
			var e gmsErr
			if code != 404 || json.Unmarshal(b, &e) != nil || !strings.HasSuffix(e.Exception, "CallbackExceptionNotFound") {
				t.Errorf("%s %s (id %.40q): %d %.200s", c.method, c.path, id, code, b)
			}
		}
		for _, q := range []string{"/genesys/1/service/callback?_id=", "/genesys/1/service/callback/Callback_Sales?_id="} {
			code, b := n.Internal(t, "GET", q+url.QueryEscape(id), demo, nil)
			if code != 200 || strings.TrimSpace(string(b)) != "[]" {
				t.Errorf("GET %s%.40q: %d %.200s", q, id, code, b)
			}
		}
		code, b := n.Internal(t, "POST", "/genesys/1/admin/callback/cancel", demo, map[string]any{"ids": []string{id}})
		if code != 200 || !strings.Contains(string(b), "not found") {
			t.Errorf("GMS bulk cancel of %.40q: %d %.200s", id, code, b)
		}
		resp, page := fetch(t, ada, "GET", n.InternalURL+"/ges/callbacks/"+esc, nil)
		if resp.StatusCode != 404 || !strings.Contains(string(page), "No such callback") {
			t.Errorf("UI page of %.40q: %d %.200s", id, resp.StatusCode, page)
		}
		for _, op := range []string{"retrieve", "cancel"} {
			code, m := n.External(t, "POST", "/engagement/v3/callbacks/"+op, demoKey, map[string]string{"id": id})
			st, _ := m["status"].(map[string]any)
			if code != 400 || st == nil || st["code"] != float64(400) {
				t.Errorf("external %s of %.40q: %d %v", op, id, code, m)
			}
		}
	}
}
