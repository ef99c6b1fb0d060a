package uitest

import (
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestNumberRulesUI: a supervisor creates a permitted & blocked number
// rule on Tools > Permitted & Blocked Numbers, assigns it to a service,
// tests numbers against it and sees the verdicts; creates through the API
// follow the rule; the rule is edited and deleted. A monitor may not see
// or change the rules; a form without the anti-forgery token is refused.
func TestNumberRulesUI(t *testing.T) {
	s := uiStack(t, nil)
	n := s.Nodes[0]

	b := newBrowser(t, n.InternalURL)
	b.gwsLogin("supervisor", "supervisor-pw")
	b.open("/ges/callbacks")
	b.submit("#tab-numbers")
	wantContains(t, "page", b.location(), "/ges/tools/numbers")
	wantContains(t, "no rules yet", b.text("#number-rules"), "No rules")

	// Create a rule on Callback_Sales.
	b.do(chromedp.SetValue(chromedp.CSS("#rule-name"), "NorthAmerica"),
		chromedp.SetValue(chromedp.CSS("#rule-countries"), "us, ca"),
		chromedp.SetValue(chromedp.CSS("#rule-simple"), "1212555*"),
		chromedp.SetValue(chromedp.CSS("#rule-regex"), `^\+1310`),
		chromedp.Click(chromedp.CSS(`input[name="services"][value="Callback_Sales"]`)))
	b.submit("#rule-save")
	wantContains(t, "saved", b.text("#flash"), "Rule NorthAmerica saved")
	row := b.text(`#number-rules tr[data-rule="NorthAmerica"]`)
	for _, want := range []string{"CA, US", "1212555*", `^\+1310`, "Callback_Sales"} {
		wantContains(t, "rule row", row, want)
	}
	b.screenshot("rules")

	// Test numbers: against the rule, and against the service.
	test := func(number, target, want string) {
		t.Helper()
		b.do(chromedp.SetValue(chromedp.CSS("#test-number"), number), chromedp.SetValue(chromedp.CSS("#test-target"), target))
		b.submit("#test-run")
		wantContains(t, "verdict of "+number, b.text("#verdict"), want)
	}
	test("+442079460000", "rule:NorthAmerica", "Refused (country-not-permitted)")
	test("+12125551234", "service:Callback_Sales", "Refused (blocked-by-pattern)")
	test("+12015550123", "service:Callback_Sales", "Permitted")
	test("+442079460000", "service:Callback_Support", "Permitted")
	b.screenshot("verdict")

	// Creates follow the rule.
	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", "demo-api-key-0001",
		map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+442079460000"})
	if code != 400 {
		t.Fatalf("create of a number of a country the rule does not permit: %d %v", code, resp)
	}
	create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+12015550123"})

	// Edit: GB permitted too, and the service taken off.
	b.open("/ges/tools/numbers?edit=NorthAmerica")
	b.do(chromedp.SetValue(chromedp.CSS("#rule-countries"), "US, CA, GB"),
		chromedp.Click(chromedp.CSS(`input[name="services"][value="Callback_Sales"]`)))
	b.submit("#rule-save")
	wantContains(t, "edited", b.text(`#number-rules tr[data-rule="NorthAmerica"]`), "CA, GB, US")
	test("+442079460000", "rule:NorthAmerica", "Permitted")

	// No anti-forgery token: refused, nothing deleted.
	if f := b.post("/ges/tools/numbers/NorthAmerica/delete", url.Values{}, false); f.Status != 403 {
		t.Fatalf("delete without the token: %d", f.Status)
	}
	// Delete asks first; no keeps the rule.
	del := `#number-rules tr[data-rule="NorthAmerica"] button`
	b.do(chromedp.Click(chromedp.CSS(del)), chromedp.WaitVisible(chromedp.CSS("#confirm-dialog")))
	wantContains(t, "delete question", b.text("#confirm-text"), "Delete the rule NorthAmerica?")
	b.dismiss()
	if b.count(`#number-rules tr[data-rule="NorthAmerica"]`) != 1 {
		t.Fatalf("the rule went although the delete was not confirmed")
	}
	b.confirm(del)
	wantContains(t, "deleted", b.text("#flash"), "Rule NorthAmerica deleted")
	wantContains(t, "no rules left", b.text("#number-rules"), "No rules")

	// A monitor has no such page.
	m := newBrowser(t, n.InternalURL)
	m.gwsLogin("monitor", "monitor-pw")
	if m.count("#tab-numbers") != 0 {
		t.Fatalf("a monitor is offered the number rules")
	}
	if f := m.get("/ges/tools/numbers"); f.Status != 403 {
		t.Fatalf("monitor GET /ges/tools/numbers: %d", f.Status)
	}

	// The page with a verdict shown is accessible (last: without axe-core
	// the check is skipped).
	test("+19002345678", "service:Callback_Sales", "Permitted")
	if v := b.axe(axeSource(t)); len(v) != 0 {
		b.screenshot("axe")
		t.Errorf("%d serious or critical accessibility violations: %+v", len(v), v)
	}
}
