package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// TestNumberRulesEnforcedOnCreate: a permitted & blocked number rule on a
// service refuses, on both APIs and in each one's envelope (400), the
// numbers of countries it does not permit and the numbers its patterns
// block, storing nothing in Redis or Postgres; a permitted number is
// accepted, a GMS update may not move a callback to a refused number,
// services without the rule take every number, and once the rule is
// deleted the refused numbers are accepted again. A second node applies
// each change within its refresh.
func TestNumberRulesEnforcedOnCreate(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Nodes: 2})
	n, other := s.Nodes[0], s.Nodes[1]
	ccid := demoCCID(s)
	gms := gmsAs(t, n, ccid)
	st := openStores(t, s)
	ctx := context.Background()

	const (
		permitted = "+12015550123"  // US
		foreign   = "+442079460000" // GB
		blocked   = "+12125551234"  // US, matches 1212555*
		blockedRe = "+13105550100"  // US, matches ^\+1310
	)
	stored := func(phone string) (pg int, redis int) {
		t.Helper()
		if err := st.pg.QueryRow(ctx, `SELECT count(*) FROM callbacks WHERE ccid=$1 AND phone=$2`, ccid, phone).Scan(&pg); err != nil {
			t.Fatal(err)
		}
		keys, err := st.rdb.Keys(ctx, "ges:{"+ccid+"}:cb:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			v, _ := st.rdb.Get(ctx, k).Result()
			if strings.Contains(v, phone) {
				redis++
			}
		}
		return pg, redis
	}
	gmsCreate := func(svc, phone string) (int, string) {
		t.Helper()
		return gms("POST", "/genesys/1/service/callback/"+svc, map[string]string{"_customer_number": phone})
	}
	// The other node applies a change within its refresh (2 s): French
	// numbers, another each try, refused or accepted there.
	tries := 0
	otherRefuses := func() bool {
		t.Helper()
		tries++
		code, b := other.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", ccid,
			map[string]string{"_customer_number": fmt.Sprintf("+3314268%04d", tries)})
		switch {
		case code == 400 && strings.Contains(string(b), "not permitted by rule NorthAmerica"):
			return true
		case code == 200:
			return false
		}
		t.Fatalf("create on the other node: %d %s", code, b)
		return false
	}
	extCreate := func(svc, phone string) (int, map[string]any) {
		t.Helper()
		return n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]string{"serviceName": svc, "phoneNumber": phone})
	}
	refused := func(phone, want string) {
		t.Helper()
		code, b := gmsCreate("Callback_Sales", phone)
		if code != 400 || !strings.Contains(b, "CallbackExceptionInvalidParameter") || !strings.Contains(b, want) {
			t.Fatalf("GMS create of %s: %d %s, want 400 naming %q", phone, code, b, want)
		}
		code, resp := extCreate("Callback_Sales", phone)
		st, _ := resp["status"].(map[string]any)
		msg, _ := st["message"].(string)
		if code != 400 || st["code"] != float64(400) || !strings.Contains(msg, want) {
			t.Fatalf("external create of %s: %d %v, want 400 naming %q", phone, code, resp, want)
		}
		if pg, rd := stored(phone); pg != 0 || rd != 0 {
			t.Fatalf("refused number %s stored: %d in Postgres, %d in Redis", phone, pg, rd)
		}
	}

	// Malformed rules are refused.
	for _, body := range []map[string]any{
		{"countries": []string{}},
		{"countries": []string{"XX"}},
		{"countries": []string{"US"}, "patterns": []map[string]any{{"pattern": "1900[", "regex": true}}},
		{"countries": []string{"US"}, "services": []string{"Callback_Nope"}},
		{"countries": []string{"US"}, "color": "red"},
	} {
		if code, b := gms("PUT", "/ges/v1/numbers/rules/NorthAmerica", body); code != 400 {
			t.Fatalf("rule %v: %d %s, want 400", body, code, b)
		}
	}
	code, b := gms("PUT", "/ges/v1/numbers/rules/NorthAmerica", map[string]any{
		"countries": []string{"us", "CA"},
		"patterns":  []map[string]any{{"pattern": "1 212 555 *"}, {"pattern": `^\+1310`, "regex": true}},
		"services":  []string{"Callback_Sales"},
	})
	if code != 200 || !strings.Contains(b, `"countries":["CA","US"]`) || !strings.Contains(b, `"services":["Callback_Sales"]`) {
		t.Fatalf("put rule: %d %s", code, b)
	}
	eventually(t, 10*time.Second, "the other node applying the rule", otherRefuses)
	if code, b := gms("GET", "/ges/v1/numbers/rules", nil); code != 200 || !strings.Contains(b, `"name":"NorthAmerica"`) {
		t.Fatalf("list rules: %d %s", code, b)
	}
	if code, b := gms("POST", "/ges/v1/numbers/test", map[string]string{"number": foreign, "service": "Callback_Sales"}); code != 200 ||
		!strings.Contains(b, `"allowed":false`) || !strings.Contains(b, `"reason":"country-not-permitted"`) || !strings.Contains(b, `"country":"GB"`) {
		t.Fatalf("test a foreign number: %d %s", code, b)
	}
	if code, b := gms("POST", "/ges/v1/numbers/test", map[string]string{"number": permitted, "rule": "NorthAmerica"}); code != 200 || !strings.Contains(b, `"allowed":true`) {
		t.Fatalf("test a permitted number: %d %s", code, b)
	}

	// A permitted number is accepted on both APIs.
	code, b = gmsCreate("Callback_Sales", permitted)
	var created map[string]string
	decode(t, []byte(b), &created)
	if code != 200 || created["_id"] == "" {
		t.Fatalf("GMS create of a permitted number: %d %s", code, b)
	}
	// A GMS update may not move the callback to a refused number.
	if code, b := gms("PUT", "/genesys/1/service/callback/Callback_Sales/"+created["_id"], map[string]string{"_customer_number": foreign}); code != 400 ||
		!strings.Contains(b, "not permitted by rule NorthAmerica") {
		t.Fatalf("GMS update to a foreign number: %d %s", code, b)
	}
	if code, b := gms("GET", "/genesys/1/service/callback/Callback_Sales/"+created["_id"], nil); code != 200 || !strings.Contains(b, permitted) || strings.Contains(b, foreign) {
		t.Fatalf("callback after a refused update: %d %s", code, b)
	}
	if code, resp := extCreate("Callback_Sales", permitted); code != 200 {
		t.Fatalf("external create of a permitted number: %d %v", code, resp)
	}
	refused(foreign, "not permitted by rule NorthAmerica")
	refused(blocked, "blocked by pattern 1 212 555 *")
	refused(blockedRe, blockedRe+" is blocked by pattern")
	refused("+19002345678", "premium-rate")
	// A service the rule is not on takes every number.
	if code, b := gmsCreate("Callback_Support", foreign); code != 200 {
		t.Fatalf("GMS create in a service without a rule: %d %s", code, b)
	}

	// The rule deleted, the refused numbers are accepted.
	if code, b := gms("DELETE", "/ges/v1/numbers/rules/NorthAmerica", nil); code != 200 {
		t.Fatalf("delete rule: %d %s", code, b)
	}
	if code, b := gms("DELETE", "/ges/v1/numbers/rules/NorthAmerica", nil); code != 404 {
		t.Fatalf("delete a deleted rule: %d %s", code, b)
	}
	if code, b := gmsCreate("Callback_Sales", foreign); code != 200 {
		t.Fatalf("GMS create after the rule was deleted: %d %s", code, b)
	}
	eventually(t, 10*time.Second, "the other node applying the delete", func() bool { return !otherRefuses() })
	if code, resp := extCreate("Callback_Sales", blocked); code != 200 {
		t.Fatalf("external create after the rule was deleted: %d %v", code, resp)
	}
	if pg, _ := stored(blocked); pg != 1 {
		t.Fatalf("accepted number stored %d times in Postgres", pg)
	}
}
