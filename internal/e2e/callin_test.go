package e2e

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

const callinExcNotFound = "com.genesyslab.gsg.services.callback.exceptions.CallbackExceptionNotFound"

// putGroup configures a Click-To-Call-In group of the tenant.
func callinPutGroup(t *testing.T, n *testenv.Node, ccid, name string, body map[string]any) {
	t.Helper()
	code, b := n.Internal(t, "PUT", "/ges/v1/callin/groups/"+url.PathEscape(name), ccid, body)
	if code != 200 {
		t.Fatalf("put group %s: %d %s", name, code, b)
	}
}

// callIn asks for a number through the Engagement API.
func callinRequest(t *testing.T, n *testenv.Node, key string, body map[string]any) (int, map[string]any) {
	t.Helper()
	code, resp := n.External(t, "POST", "/engagement/v3/call-in/requests/create", key, body)
	if code == 200 {
		return code, resp["data"].(map[string]any)
	}
	return code, resp
}

func callinMust(t *testing.T, n *testenv.Node, body map[string]any) map[string]any {
	t.Helper()
	code, d := callinRequest(t, n, demoKey, body)
	if code != 200 {
		t.Fatalf("call-in %v: %d %v", body, code, d)
	}
	return d
}

func callinMatch(t *testing.T, n *testenv.Node, ccid string, body any) (int, map[string]any) {
	t.Helper()
	code, b := n.Internal(t, "POST", "/genesys/1/service/match-interaction", ccid, body)
	var m map[string]any
	decode(t, b, &m)
	return code, m
}

func callinStatusMsg(resp map[string]any) string {
	st, _ := resp["status"].(map[string]any)
	msg, _ := st["message"].(string)
	return msg
}

// callinCreated reads ges_callin_created of a tenant from a node's metrics.
func callinCreated(t *testing.T, n *testenv.Node, ccid string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^ges_callin_created\{tenant="` + regexp.QuoteMeta(ccid) + `"\} (\S+)$`)
	m := re.FindStringSubmatch(metricsText(t, n))
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestCallInAllocationMatchAndExpiry(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{NoPublish: true})
	n := s.Nodes[0]
	demo, other := demoCCID(s), otherCCID(s)
	before := callinCreated(t, n, demo)
	callinPutGroup(t, n, demo, "technical_help", map[string]any{"numbers": []string{"+18005550100", "+1 800 555 0101"}, "expirySeconds": 300})

	// Two requests get the two numbers, for the group's lifetime.
	start := time.Now()
	a := callinMust(t, n, map[string]any{"groupName": "technical_help", "fromPhoneNumber": "4155550188",
		"userData": map[string]any{"priority": "high", "email": "c@example.com"}})
	b := callinMust(t, n, map[string]any{"groupName": "technical_help", "userData": `{"legacy":"string"}`})
	if a["toPhoneNumber"] == b["toPhoneNumber"] || a["toPhoneNumber"] == nil {
		t.Fatalf("both requests got %v", a["toPhoneNumber"])
	}
	for _, d := range []map[string]any{a, b} {
		exp := time.UnixMilli(int64(d["expirationTime"].(float64)))
		if want := start.Add(300 * time.Second); exp.Before(want.Add(-5*time.Second)) || exp.After(want.Add(5*time.Second)) {
			t.Fatalf("expirationTime %v, want about %v", exp, want)
		}
		if d["groupName"] != "technical_help" || len(d["id"].(string)) != 36 {
			t.Fatalf("response %v", d)
		}
		if _, ok := d["accessCode"]; ok {
			t.Fatalf("accessCode without codes: %v", d)
		}
		if _, ok := d["callbackServiceId"]; ok {
			t.Fatalf("callbackServiceId not supplied but answered: %v", d)
		}
	}
	if a["fromPhoneNumber"] != "4155550188" {
		t.Fatalf("fromPhoneNumber: %v", a)
	}
	if _, ok := b["fromPhoneNumber"]; ok {
		t.Fatalf("fromPhoneNumber not supplied but answered: %v", b)
	}
	// The pool is exhausted.
	code, resp := callinRequest(t, n, demoKey, map[string]any{"groupName": "technical_help"})
	if code != 400 || !strings.Contains(callinStatusMsg(resp), "No access number is available") {
		t.Fatalf("third request: %d %v", code, resp)
	}

	// The listing shows both reservations.
	code, body := n.Internal(t, "GET", "/ges/v1/callin/groups/technical_help", demo, nil)
	var g struct {
		Numbers      []string
		Reservations []struct{ ID, Number, Expiry, FromPhoneNumber string }
	}
	decode(t, body, &g)
	if code != 200 || len(g.Reservations) != 2 || strings.Join(g.Numbers, ",") != "+18005550100,+18005550101" {
		t.Fatalf("group: %d %s", code, body)
	}

	// Another tenant does not see the reservation.
	if code, m := callinMatch(t, n, other, map[string]string{"_access_number": a["toPhoneNumber"].(string)}); code != 404 || m["exception"] != callinExcNotFound {
		t.Fatalf("other tenant's match: %d %v", code, m)
	}
	// The wrong caller does not match; the right one does (DNIS without
	// the +, caller id in international form), and gets the user data.
	num := strings.TrimPrefix(a["toPhoneNumber"].(string), "+")
	if code, m := callinMatch(t, n, demo, map[string]string{"_access_number": num, "_phone_number": "+14155550199"}); code != 404 {
		t.Fatalf("wrong caller: %d %v", code, m)
	}
	code, m := callinMatch(t, n, demo, map[string]string{"_access_number": num, "_phone_number": "+1 415 555 0188"})
	if code != 200 || m["_id"] != a["id"] || m["_access_number"] != a["toPhoneNumber"] || m["_phone_number"] != "4155550188" {
		t.Fatalf("match: %d %v", code, m)
	}
	if data, _ := m["_data"].(map[string]any); data["priority"] != "high" || data["email"] != "c@example.com" {
		t.Fatalf("match _data: %v", m["_data"])
	}
	// Released: it matches no more, and the number is lent again.
	if code, _ := callinMatch(t, n, demo, map[string]string{"_access_number": num}); code != 404 {
		t.Fatalf("second match of a released reservation: %d", code)
	}
	c := callinMust(t, n, map[string]any{"groupName": "technical_help"})
	if c["toPhoneNumber"] != a["toPhoneNumber"] {
		t.Fatalf("released number not lent again: %v, want %v", c["toPhoneNumber"], a["toPhoneNumber"])
	}
	// A form body matches too, and the legacy string user data was kept.
	code, m = callinMatch(t, n, demo, url.Values{"_access_number": {b["toPhoneNumber"].(string)}})
	if data, _ := m["_data"].(map[string]any); code != 200 || m["_id"] != b["id"] || data["legacy"] != "string" {
		t.Fatalf("form match: %d %v", code, m)
	}

	// A reservation lives only as long as the group says.
	callinPutGroup(t, n, demo, "short", map[string]any{"numbers": []string{"+18005550200"}, "expirySeconds": 1})
	first := callinMust(t, n, map[string]any{"groupName": "short"})
	if code, _ := callinRequest(t, n, demoKey, map[string]any{"groupName": "short"}); code != 400 {
		t.Fatalf("pool of one while reserved: %d", code)
	}
	time.Sleep(1100 * time.Millisecond)
	code, body = n.Internal(t, "GET", "/ges/v1/callin/groups/short", demo, nil)
	decode(t, body, &g)
	if code != 200 || len(g.Reservations) != 0 {
		t.Fatalf("expired reservation still listed: %s", body)
	}
	if code, _ := callinMatch(t, n, demo, map[string]string{"_access_number": "+18005550200"}); code != 404 {
		t.Fatalf("expired reservation matched: %d", code)
	}
	again := callinMust(t, n, map[string]any{"groupName": "short"})
	if again["toPhoneNumber"] != first["toPhoneNumber"] || again["id"] == first["id"] {
		t.Fatalf("after expiry: %v, first %v", again, first)
	}

	// Access codes: three live requests share a one-number pool.
	callinPutGroup(t, n, demo, "codes", map[string]any{"numbers": []string{"+18005550300"}, "accessCodes": true})
	codes := map[float64]string{}
	for i := range 3 {
		d := callinMust(t, n, map[string]any{"groupName": "codes", "userData": map[string]any{"n": i}})
		ac, ok := d["accessCode"].(float64)
		if !ok || ac < 100000 || ac > 999999 || d["toPhoneNumber"] != "+18005550300" {
			t.Fatalf("code request: %v", d)
		}
		if _, dup := codes[ac]; dup {
			t.Fatalf("code %v handed out twice", ac)
		}
		codes[ac] = d["id"].(string)
	}
	wrong := 100000
	for _, taken := codes[float64(wrong)]; taken; _, taken = codes[float64(wrong)] {
		wrong++
	}
	if code, _ := callinMatch(t, n, demo, map[string]string{"_access_number": "+18005550300", "_access_code": strconv.Itoa(wrong)}); code != 404 {
		t.Fatalf("wrong code matched: %d", code)
	}
	for ac, id := range codes {
		code, m := callinMatch(t, n, demo, map[string]string{"_access_number": "+18005550300", "_access_code": strconv.Itoa(int(ac))})
		if code != 200 || m["_id"] != id || m["_access_code"] != strconv.Itoa(int(ac)) {
			t.Fatalf("match with code %v: %d %v", ac, code, m)
		}
	}

	// Refusals of the Engagement API.
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{}, "groupName is required"},
		{map[string]any{"groupName": "nope"}, "Unknown Click-To-Call-In group: nope"},
		{map[string]any{"groupName": "codes", "callbackServiceId": "not-a-uuid"}, "Invalid callbackServiceId"},
		{map[string]any{"groupName": "codes", "callbackServiceId": 42}, "Invalid callbackServiceId"},
		{map[string]any{"groupName": "codes", "userData": []int{1}}, "Invalid userData"},
	} {
		if code, resp := callinRequest(t, n, demoKey, c.body); code != 400 || !strings.Contains(callinStatusMsg(resp), c.want) {
			t.Errorf("%v: %d %v, want 400 %q", c.body, code, resp, c.want)
		}
	}
	if code, _ := callinRequest(t, n, "", map[string]any{"groupName": "codes"}); code != 401 {
		t.Fatalf("no API key: %d", code)
	}
	// The other tenant has no such group.
	if code, resp := callinRequest(t, n, otherKey, map[string]any{"groupName": "codes"}); code != 400 {
		t.Fatalf("other tenant's group: %d %v", code, resp)
	}
	cbID := "8D1C2B7A-3E4F-4A5B-9C6D-7E8F9A0B1C2D"
	d := callinMust(t, n, map[string]any{"groupName": "codes", "callbackServiceId": cbID, "phoneNumber": "+14155550100"})
	if d["callbackServiceId"] != strings.ToLower(cbID) || d["fromPhoneNumber"] != "+14155550100" {
		t.Fatalf("callbackServiceId/legacy phoneNumber: %v", d)
	}

	// GMS request-access: the same allocation, GMS keys; user data keys
	// come back with the match. The reservation survives a Redis loss.
	code, body = n.Internal(t, "POST", "/genesys/1/service/request-access", demo,
		url.Values{"_resource_group": {"codes"}, "_phone_number": {"5551234567"}, "order": {"A-17"}})
	var ra map[string]string
	decode(t, body, &ra)
	exp, err := time.Parse(time.RFC3339Nano, ra["_expiration_time"])
	if code != 200 || err != nil || !strings.HasSuffix(ra["_expiration_time"], "Z") || ra["_access_number"] != "+18005550300" ||
		len(ra["_access_code"]) != 6 || len(ra["_id"]) != 36 || exp.Before(time.Now().Add(290*time.Second)) {
		t.Fatalf("request-access: %d %s", code, body)
	}
	s.Redis.Restart()
	code, m = callinMatch(t, n, demo, map[string]string{"_access_number": "18005550300", "_access_code": ra["_access_code"], "_phone_number": "5551234567"})
	if data, _ := m["_data"].(map[string]any); code != 200 || m["_id"] != ra["_id"] || data["order"] != "A-17" {
		t.Fatalf("match after request-access: %d %v", code, m)
	}
	code, body = n.Internal(t, "POST", "/genesys/1/service/request-access", demo, map[string]string{"_resource_group": "nope"})
	if code != 400 || !strings.Contains(string(body), "Unknown Click-To-Call-In group") {
		t.Fatalf("request-access of an unknown group: %d %s", code, body)
	}
	code, body = n.Internal(t, "POST", "/genesys/1/service/match-interaction", demo, map[string]string{"_access_code": "123456"})
	if code != 400 || !strings.Contains(string(body), "_access_number is required") {
		t.Fatalf("match without number: %d %s", code, body)
	}

	// Every request that got a number counted: a, b, c, first, again, 3
	// codes, d and the request-access.
	if got := callinCreated(t, n, demo) - before; got != 10 {
		t.Fatalf("ges_callin_created moved by %v, want 10", got)
	}
}

func TestCallInGroupConfiguration(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{NoPublish: true})
	n := s.Nodes[0]
	demo, other := demoCCID(s), otherCCID(s)
	callinPutGroup(t, n, demo, "sales", map[string]any{"numbers": []string{"+18005550100", "+18005550101"},
		"expirySeconds": 120, "accessCodes": true, "codeLength": 4, "allocation": "random"})
	callinPutGroup(t, n, demo, "a/b group", map[string]any{"numbers": []string{"+442079460000"}})
	// The same number in another tenant is another number.
	callinPutGroup(t, n, other, "sales", map[string]any{"numbers": []string{"+18005550100"}})

	code, body := n.Internal(t, "GET", "/ges/v1/callin/groups", demo, nil)
	var list []map[string]any
	decode(t, body, &list)
	if code != 200 || len(list) != 2 || list[0]["name"] != "a/b group" || list[1]["name"] != "sales" {
		t.Fatalf("list: %d %s", code, body)
	}
	if l := list[0]; l["expirySeconds"] != 300.0 || l["accessCodes"] != false || l["codeLength"] != 6.0 || l["allocation"] != "round-robin" {
		t.Fatalf("defaults: %v", l)
	}
	if l := list[1]; l["expirySeconds"] != 120.0 || l["accessCodes"] != true || l["codeLength"] != 4.0 || l["allocation"] != "random" {
		t.Fatalf("settings: %v", l)
	}
	d := callinMust(t, n, map[string]any{"groupName": "sales"})
	if ac := d["accessCode"].(float64); ac < 1000 || ac > 9999 {
		t.Fatalf("4-digit code: %v", d)
	}

	for _, c := range []struct {
		name string
		body any
		want string
	}{
		{"x", map[string]any{}, "numbers is required"},
		{"x", map[string]any{"numbers": []string{}}, "numbers is required"},
		{"x", map[string]any{"numbers": "+18005550100"}, "Invalid numbers"},
		{"x", map[string]any{"numbers": []string{"800-CALL-NOW"}}, "Invalid numbers[0]"},
		{"x", map[string]any{"numbers": []string{"+18005550900", "+18005550900"}}, "Duplicate number"},
		{"x", map[string]any{"numbers": []string{"+18005550101"}}, "already belongs to group sales"},
		{"x", map[string]any{"numbers": []string{"+18005550900"}, "expirySeconds": 0}, "Invalid expirySeconds"},
		{"x", map[string]any{"numbers": []string{"+18005550900"}, "expirySeconds": 1.5}, "Invalid expirySeconds"},
		{"x", map[string]any{"numbers": []string{"+18005550900"}, "expirySeconds": 999999}, "Invalid expirySeconds"},
		{"x", map[string]any{"numbers": []string{"+18005550900"}, "codeLength": 12}, "Invalid codeLength"},
		{"x", map[string]any{"numbers": []string{"+18005550900"}, "accessCodes": "yes"}, "Invalid accessCodes"},
		{"x", map[string]any{"numbers": []string{"+18005550900"}, "allocation": "lifo"}, "Invalid allocation"},
		{"x", map[string]any{"numbers": []string{"+18005550900"}, "expiry": 60}, `Unknown field \"expiry\"`},
		{"x", map[string]any{"numbers": []string{"+18005550900"}, "name": "y"}, "path names x"},
		{"x", `{"numbers":`, "Malformed group"},
	} {
		code, body := n.Internal(t, "PUT", "/ges/v1/callin/groups/"+url.PathEscape(c.name), demo, c.body)
		if code != 400 || !strings.Contains(string(body), c.want) || !strings.Contains(string(body), "CallbackExceptionInvalidParameter") {
			t.Errorf("%v: %d %s, want 400 %q", c.body, code, body, c.want)
		}
	}
	if code, _ := n.Internal(t, "GET", "/ges/v1/callin/groups/x", demo, nil); code != 404 {
		t.Fatalf("refused group exists: %d", code)
	}
	if code, _ := n.Internal(t, "GET", "/ges/v1/callin/groups", "", nil); code != 400 {
		t.Fatalf("no ContactCenterId: %d", code)
	}

	// Replacing a group keeps its live reservations matchable.
	callinPutGroup(t, n, demo, "sales", map[string]any{"numbers": []string{"+18005550102"}})
	code, m := callinMatch(t, n, demo, map[string]string{"_access_number": d["toPhoneNumber"].(string), "_access_code": fmt.Sprint(int(d["accessCode"].(float64)))})
	if code != 200 || m["_id"] != d["id"] {
		t.Fatalf("match after replace: %d %v", code, m)
	}
	// A removed number can join another group.
	callinPutGroup(t, n, demo, "support", map[string]any{"numbers": []string{"+18005550100"}})

	// Deleting a group ends its reservations.
	d = callinMust(t, n, map[string]any{"groupName": "support"})
	if code, body := n.Internal(t, "DELETE", "/ges/v1/callin/groups/support", demo, nil); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := callinMatch(t, n, demo, map[string]string{"_access_number": d["toPhoneNumber"].(string)}); code != 404 {
		t.Fatalf("reservation of a deleted group matched: %d", code)
	}
	if code, body := n.Internal(t, "DELETE", "/ges/v1/callin/groups/support", demo, nil); code != 404 || !strings.Contains(string(body), callinExcNotFound) {
		t.Fatalf("second delete: %d %s", code, body)
	}
	if code, resp := callinRequest(t, n, demoKey, map[string]any{"groupName": "support"}); code != 400 {
		t.Fatalf("request to a deleted group: %d %v", code, resp)
	}
	// The other tenant's group was never touched.
	if code, body := n.Internal(t, "GET", "/ges/v1/callin/groups/sales", other, nil); code != 200 || !strings.Contains(string(body), `"+18005550100"`) {
		t.Fatalf("other tenant's group: %d %s", code, body)
	}
}

func TestCallInConcurrentAllocationAcrossNodes(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Nodes: 2, NoPublish: true})
	demo := demoCCID(s)
	var numbers []string
	for i := range 10 {
		numbers = append(numbers, fmt.Sprintf("+1800555%04d", 1000+i))
	}
	callinPutGroup(t, s.Nodes[0], demo, "rush", map[string]any{"numbers": numbers, "allocation": "random"})
	before := callinCreated(t, s.Nodes[0], demo) + callinCreated(t, s.Nodes[1], demo)

	type result struct {
		status int
		number string
		err    error
	}
	results := make(chan result, 30)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			r, err := s.Nodes[i%2].ExternalDo("POST", "/engagement/v3/call-in/requests/create", demoKey, map[string]any{"groupName": "rush"})
			if err != nil {
				results <- result{err: err}
				return
			}
			m, err := r.JSON()
			res := result{status: r.Status, err: err}
			if d, ok := m["data"].(map[string]any); ok {
				res.number, _ = d["toPhoneNumber"].(string)
			}
			results <- res
		})
	}
	wg.Wait()
	close(results)
	ok, refused := 0, 0
	seen := map[string]bool{}
	for r := range results {
		switch {
		case r.err != nil:
			t.Fatal(r.err)
		case r.status == 200:
			ok++
			if seen[r.number] {
				t.Fatalf("%s lent twice", r.number)
			}
			seen[r.number] = true
		case r.status == 400:
			refused++
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	if ok != 10 || refused != 20 || len(seen) != 10 {
		t.Fatalf("%d granted (%d numbers), %d refused; want 10, 10, 20", ok, len(seen), refused)
	}
	after := callinCreated(t, s.Nodes[0], demo) + callinCreated(t, s.Nodes[1], demo)
	if after-before != 10 {
		t.Fatalf("ges_callin_created moved by %v across nodes, want 10", after-before)
	}
}
