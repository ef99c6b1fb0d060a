package uitest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gesgo/ges/internal/testenv"
)

const xss = `<img src=x onerror=alert(1)>`

// uiStack starts GES with Callback_Sales limited to one callback per slot
// (to have full slots) and waits until GES has created the VQ proxies
// that line-of-business segmentation reads.
func uiStack(t *testing.T, env map[string]string) *testenv.Stack {
	t.Helper()
	fx := testenv.DefaultFixture()
	fx.ContactCenter("Demo").SetSetting("Callback_Sales", "Capacity", "1")
	s := testenv.NewStack(t, testenv.StackOptions{Fixture: fx, Env: env})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := testenv.Do("GET", s.Sim.AdminURL+"/sim/config/scripts", nil, nil)
		if err == nil && strings.Count(string(resp.Body), `"Callback_S`) >= 4 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("VQ proxies not created: %v %s", err, resp.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func create(t *testing.T, n *testenv.Node, body map[string]any) string {
	t.Helper()
	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", testenv.DemoAPIKey, body)
	if code != 200 {
		t.Fatalf("create: %d %v", code, resp)
	}
	return resp["data"].(map[string]any)["id"].(string)
}

func retrieve(t *testing.T, n *testenv.Node, id string) map[string]any {
	t.Helper()
	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/retrieve", testenv.DemoAPIKey, map[string]string{"id": id})
	if code != 200 {
		t.Fatalf("retrieve %s: %d %v", id, code, resp)
	}
	return resp["data"].(map[string]any)
}

func apiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func wantContains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("%s: %q does not contain %q", what, got, want)
	}
}

func TestCallbackUI(t *testing.T) {
	s := uiStack(t, nil)
	n := s.Nodes[0]
	day := time.Now().UTC().Add(24 * time.Hour).Truncate(24 * time.Hour)
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	// The only place of the 10:00 slot is taken.
	blocker := create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550000010", "desiredTime": apiTime(at(10))})

	// An administrator books, reschedules, cancels, bulk-cancels and exports,
	// and uses every tab.
	t.Run("admin", func(t *testing.T) {
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		wantContains(t, "landing page", b.location(), "/ges/callbacks")
		wantContains(t, "roles", b.text("#roles"), "Callback Administrator")
		wantContains(t, "grid", b.text("#grid"), blocker[:8])
		b.screenshot("callbacks")

		// Create.
		b.do(chromedp.Click(chromedp.CSS("#create-open")),
			chromedp.SetValue(chromedp.CSS("#c-service"), "Callback_Sales"),
			chromedp.SetValue(chromedp.CSS("#c-phone"), "+15551230001"),
			chromedp.SetValue(chromedp.CSS("#c-desired"), at(12).Format("2006-01-02T15:04")),
			chromedp.SetValue(chromedp.CSS("#c-userdata"), `{"customerName":"Ada Lovelace","orderId":"A-1"}`),
		)
		b.submit("#c-submit")
		id := b.text("#cb-id")
		wantContains(t, "create message", b.text("#flash"), "booked")
		wantContains(t, "user data", b.text("#userdata"), "Ada Lovelace")
		if d := retrieve(t, n, id); d["callbackState"] != "SCHEDULED" || d["desiredTime"] != apiTime(at(12)) || d["phoneNumber"] != "+15551230001" {
			t.Fatalf("created callback through the API: %v", d)
		}
		b.screenshot("callback")

		// The full slot is shown but cannot be chosen, and the server
		// refuses it when forced.
		if b.count(`button.slot[data-start="`+at(10).Format(time.RFC3339)+`"][disabled]`) != 1 {
			t.Fatalf("the full 10:00 slot is not shown disabled")
		}
		f := b.post("/ges/callbacks/"+id+"/reschedule", url.Values{"desired": {at(10).Format(time.RFC3339)}}, true)
		wantContains(t, "reschedule into a full slot", f.Text, "Not rescheduled")
		if d := retrieve(t, n, id); d["desiredTime"] != apiTime(at(12)) {
			t.Fatalf("a refused reschedule moved the callback: %v", d)
		}

		// A time already past is refused with the reason, and the
		// callback keeps its time.
		past := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
		f = b.post("/ges/callbacks/"+id+"/reschedule", url.Values{"desired": {past.Format(time.RFC3339)}}, true)
		wantContains(t, "reschedule into the past", f.Text, "into the past")
		if d := retrieve(t, n, id); d["desiredTime"] != apiTime(at(12)) || d["callbackState"] != "SCHEDULED" {
			t.Fatalf("a reschedule into the past moved the callback: %v", d)
		}

		// Reschedule to a free slot.
		b.open("/ges/callbacks/" + id)
		b.submit(`button.slot[data-start="` + at(14).Format(time.RFC3339) + `"]`)
		wantContains(t, "reschedule message", b.text("#flash"), "rescheduled")
		wantContains(t, "desired time", b.text("#cb-desired"), at(14).Format("2006-01-02 15:04"))
		if d := retrieve(t, n, id); d["desiredTime"] != apiTime(at(14)) || d["callbackState"] != "SCHEDULED" {
			t.Fatalf("rescheduled callback through the API: %v", d)
		}

		// A state change without the anti-forgery token is refused.
		if f := b.post("/ges/callbacks/"+id+"/cancel", nil, false); f.Status != http.StatusForbidden {
			t.Fatalf("cancel without token: %d", f.Status)
		}
		if d := retrieve(t, n, id); d["callbackState"] != "SCHEDULED" {
			t.Fatalf("a POST without token changed the callback: %v", d)
		}

		// Cancel.
		b.open("/ges/callbacks/" + id)
		b.confirm("#cancel")
		wantContains(t, "cancel message", b.text("#flash"), "cancelled")
		wantContains(t, "state", b.text("#cb-state"), "COMPLETED (CANCELLED)")
		if d := retrieve(t, n, id); d["callbackState"] != "COMPLETED" || d["callbackReason"] != "CANCELLED" {
			t.Fatalf("cancelled callback through the API: %v", d)
		}
		history := b.text("#history")
		wantContains(t, "history", history, "SCHEDULED")
		wantContains(t, "history", history, "CANCELLED")
		if b.count("#cancel") != 0 {
			t.Fatal("a completed callback still offers cancel")
		}

		// Export.
		b.open("/ges/callbacks?ud=customerName")
		href, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#export"), "href"))
		if err != nil {
			t.Fatal(err)
		}
		csv := b.get(href.Value)
		if csv.Status != 200 {
			t.Fatalf("export: %d %s", csv.Status, csv.Text)
		}
		wantContains(t, "CSV header", csv.Text, "id,service,phone,state,reason,desiredTime,created,updated,customerName")
		wantContains(t, "CSV", csv.Text, id+",Callback_Sales,+15551230001,COMPLETED,CANCELLED,"+apiTime(at(14)))
		wantContains(t, "CSV user data", csv.Text, "Ada Lovelace")
		wantContains(t, "CSV", csv.Text, blocker+",Callback_Sales,+15550000010,SCHEDULED")

		// Bulk cancel.
		a1 := create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550000016", "desiredTime": apiTime(at(16))})
		a2 := create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550000017", "desiredTime": apiTime(at(17))})
		b.open("/ges/callbacks")
		b.do(chromedp.Click(chromedp.CSS(`input.pick[value="`+a1+`"]`)), chromedp.Click(chromedp.CSS(`input.pick[value="`+a2+`"]`)))
		b.confirm("#bulk-cancel")
		wantContains(t, "bulk cancel", b.text("#flash"), "2 callbacks cancelled, 0 not cancelled")
		for _, x := range []string{a1, a2} {
			if d := retrieve(t, n, x); d["callbackState"] != "COMPLETED" {
				t.Fatalf("bulk-cancelled %s: %v", x, d)
			}
		}

		b.open("/ges/queues")
		wantContains(t, "queues", b.text("#queue-Callback_Sales"), "Callback_Sales")
		wantContains(t, "running service", b.text("#queue-Callback_Sales td.pause"), "Running")
		// Pause and resume a service from the Queues page.
		b.submit(`#queue-Callback_Sales form[action$="/pause"] button`)
		wantContains(t, "pause message", b.text("#flash"), "paused")
		wantContains(t, "paused service", b.text("#queue-Callback_Sales td.pause"), "Paused")
		b.screenshot("queues-paused")
		b.submit(`#queue-Callback_Sales form[action$="/resume"] button`)
		wantContains(t, "resume message", b.text("#flash"), "resumed")
		wantContains(t, "resumed service", b.text("#queue-Callback_Sales td.pause"), "Running")
		b.screenshot("queues")
		// Numbers written with spaces and brackets, one per line or
		// comma separated, are each one number.
		f = b.post("/ges/callin", url.Values{"name": {"ui-pool"}, "numbers": {"+1 800 555 0100\n+1 (800) 555-0101, +44 20 7946 0000"},
			"expiry": {"300"}, "allocation": {"round-robin"}}, true)
		wantContains(t, "call-in group saved", f.Text, "saved")
		b.open("/ges/callin")
		b.do(chromedp.WaitVisible(chromedp.CSS("#callin-groups")))
		wantContains(t, "call-in group numbers", b.text("#callin-groups"), "+18005550100, +18005550101, +442079460000")
		b.screenshot("callin")

		// Developer: the API error is found by its correlation id.
		code, resp := n.External(t, "POST", "/engagement/v3/callbacks/retrieve", testenv.DemoAPIKey, map[string]string{"id": "00000000-0000-4000-8000-000000000000"})
		if code != 404 {
			t.Fatalf("retrieve unknown: %d", code)
		}
		corr := resp["status"].(map[string]any)["corrId"].(string)
		deadline := time.Now().Add(5 * time.Second)
		for {
			b.open("/ges/developer?corrId=" + url.QueryEscape(corr))
			if strings.Contains(b.text("#api-errors"), corr) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("error %s not in the Developer tab", corr)
			}
			time.Sleep(200 * time.Millisecond)
		}
		b.screenshot("developer")
		b.do(chromedp.SetValue(chromedp.CSS("#apikey"), testenv.DemoAPIKey))
		b.submit("#apikey-submit")
		wantContains(t, "API key check", b.text("#flash"), "valid for contact center Demo")
		b.do(chromedp.SetValue(chromedp.CSS("#apikey"), testenv.OtherAPIKey))
		b.submit("#apikey-submit")
		wantContains(t, "API key of another tenant", b.text("#flash"), "not valid")
		b.do(chromedp.SetValue(chromedp.CSS("#apikey"), "no-such-key-0000"))
		b.submit("#apikey-submit")
		wantContains(t, "unknown API key", b.text("#flash"), "not valid")
		b.do(chromedp.SetValue(chromedp.CSS("#cred-captcha textarea"), `{"enabled":false,"secret":"s3cret"}`))
		b.submit(`#cred-captcha button[type="submit"]`)
		wantContains(t, "credentials", b.text("#flash"), "CAPTCHA credentials stored")
		wantContains(t, "credentials state", b.text("#cred-captcha"), "Stored")
		if code, body := n.Internal(t, "GET", "/ges/v1/credentials/captcha", testenv.DemoContactCenterID, nil); code != 200 {
			t.Fatalf("stored credentials through the API: %d %s", code, body)
		}
		if strings.Contains(b.text("main"), "s3cret") {
			t.Fatal("the Developer tab shows a stored secret")
		}
		b.submit("#refetch")
		wantContains(t, "refetch", b.text("#flash"), "fetched again")

		// Sign out.
		b.submit("#logout")
		b.screenshot("login")
		b.open("/ges/callbacks")
		b.do(chromedp.WaitVisible(chromedp.CSS("#sign-in-gws")))
		wantContains(t, "after sign-out", b.location(), "/ges/login")
	})

	// User data is shown as text, never as markup.
	t.Run("escaping", func(t *testing.T) {
		id := create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550000018",
			"desiredTime": apiTime(at(18)), "userData": map[string]any{"note": xss}})
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("supervisor", "supervisor-pw")
		b.open("/ges/callbacks?ud=note")
		wantContains(t, "grid cell", b.text("#row-"+id), xss)
		if b.count("main img") != 0 {
			t.Fatal("user data became an element in the grid")
		}
		b.open("/ges/callbacks/" + id)
		wantContains(t, "detail", b.text("#userdata"), xss)
		if b.count("main img") != 0 {
			t.Fatal("user data became an element on the detail page")
		}
		time.Sleep(500 * time.Millisecond)
		if n := b.dialogs.Load(); n != 0 {
			t.Fatalf("%d dialogs opened", n)
		}
	})

	// A Sales monitor sees its line of business only, masked and read-only.
	t.Run("monitor", func(t *testing.T) {
		sales := create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15557770001", "desiredTime": apiTime(at(20))})
		support := create(t, n, map[string]any{"serviceName": "Callback_Support", "phoneNumber": "+15557770002", "desiredTime": apiTime(at(20))})
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("monitor", "monitor-pw")
		wantContains(t, "roles", b.text("#roles"), "Callback Monitor")
		grid := b.text("#grid")
		wantContains(t, "grid", grid, sales[:8])
		if strings.Contains(grid, support[:8]) || strings.Contains(grid, "Callback_Support") {
			t.Fatal("a Sales monitor sees a Support callback")
		}
		if strings.Contains(grid, "+15557770001") || !strings.Contains(grid, "0001") {
			t.Fatalf("phone not masked: %s", grid)
		}
		for _, sel := range []string{"button.cancel", "#bulk-cancel", "#create", "#export", "#tab-developer"} {
			if b.count(sel) != 0 {
				t.Fatalf("a monitor is offered %s", sel)
			}
		}
		b.screenshot("monitor-callbacks")
		b.open("/ges/callbacks/" + sales)
		if b.count("#cancel") != 0 || b.count("#slots") != 0 {
			t.Fatal("a monitor is offered cancel or reschedule")
		}
		// Forged requests from the monitor's session, with its valid token.
		if f := b.post("/ges/callbacks/"+sales+"/cancel", nil, true); f.Status != http.StatusForbidden {
			t.Fatalf("monitor cancel: %d", f.Status)
		}
		if f := b.post("/ges/callbacks/cancel", url.Values{"id": {sales}}, true); f.Status != http.StatusForbidden {
			t.Fatalf("monitor bulk cancel: %d", f.Status)
		}
		if d := retrieve(t, n, sales); d["callbackState"] != "SCHEDULED" {
			t.Fatalf("a monitor changed a callback: %v", d)
		}
		if f := b.get("/ges/callbacks/" + support); f.Status != http.StatusNotFound {
			t.Fatalf("monitor reads a Support callback: %d", f.Status)
		}
		for _, p := range []string{"/ges/callbacks/export.csv", "/ges/developer"} {
			if f := b.get(p); f.Status != http.StatusForbidden {
				t.Fatalf("monitor GET %s: %d", p, f.Status)
			}
		}
	})
}

func TestSessionTimeoutAndDevOps(t *testing.T) {
	s := uiStack(t, map[string]string{"UI_SESSION_TIMEOUT": "2s", "UI_DEVOPS_USERNAME": "ops", "UI_DEVOPS_PASSWORD": "ops-pw"})
	n := s.Nodes[0]

	// The DevOps form needs the login page's token.
	resp, err := testenv.Do("POST", n.InternalURL+"/ges/login/devops", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "username=ops&password=ops-pw")
	if err != nil || resp.Status != http.StatusForbidden {
		t.Fatalf("DevOps sign-in without the form's token: %v %v", err, resp)
	}

	b := newBrowser(t, n.InternalURL)
	devops := func(pass string) {
		b.open("/ges/login")
		b.do(chromedp.Click(chromedp.CSS(".login details summary")), chromedp.SetValue(chromedp.CSS("#devops-username"), "ops"),
			chromedp.SetValue(chromedp.CSS("#devops-password"), pass))
		b.submit("#devops-sign-in")
	}
	devops("wrong")
	wantContains(t, "wrong password", b.text("#login-message"), "Invalid username or password")
	devops("ops-pw")
	b.do(chromedp.WaitVisible(chromedp.CSS("#logout")))
	wantContains(t, "roles", b.text("#roles"), "DevOps")
	if b.count("#tenant option") < 2 {
		t.Fatal("DevOps cannot pick a contact center")
	}
	// Activity keeps the session alive past the timeout...
	for range 4 {
		time.Sleep(800 * time.Millisecond)
		b.open("/ges/queues")
		wantContains(t, "active session", b.location(), "/ges/queues")
	}
	// ...inactivity ends it.
	time.Sleep(2500 * time.Millisecond)
	b.open("/ges/callbacks")
	b.do(chromedp.WaitVisible(chromedp.CSS("#login-message")))
	wantContains(t, "idle session", b.location(), "/ges/login?expired=1")
	wantContains(t, "idle message", b.text("#login-message"), "session ended")
}
