package uitest

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestUsableUI covers what makes the Callback UI usable: every role lands
// on a page it may see, a clear 403 page, the sortable grid with its
// selection and badges, the create form kept after a refusal, and a
// narrow screen.
func TestUsableUI(t *testing.T) {
	s := uiStack(t, nil)
	n := s.Nodes[0]
	day := time.Now().UTC().Add(48 * time.Hour).Truncate(24 * time.Hour)
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }

	// Every role lands on a page it may see, after sign-in and at /ges.
	t.Run("landing", func(t *testing.T) {
		for _, c := range []struct{ user, landing, role string }{
			{"admin", "/ges/callbacks", "Callback Administrator"},
			{"supervisor", "/ges/callbacks", "Callback Supervisor"},
			{"monitor", "/ges/callbacks", "Callback Monitor"},
			{"developer", "/ges/queues", "Callback Developer"},
		} {
			t.Run(c.user, func(t *testing.T) {
				b := newBrowser(t, n.InternalURL)
				b.gwsLogin(c.user, c.user+"-pw")
				wantContains(t, "roles", b.text("#roles"), c.role)
				if loc := b.location(); !strings.HasSuffix(loc, c.landing) || b.count("#error-message") != 0 {
					t.Fatalf("%s landed on %s: %s", c.user, loc, b.text("main"))
				}
				for _, p := range []string{"/ges", "/ges/", "/ges/login"} {
					b.open(p)
					b.do(chromedp.WaitVisible(chromedp.CSS("#logout")))
					if loc := b.location(); !strings.HasSuffix(loc, c.landing) || b.count("#error-message") != 0 {
						t.Fatalf("%s at %s landed on %s", c.user, p, loc)
					}
				}
				if c.user == "developer" {
					b.screenshot("developer-landing")
					// A page the role may not see: a clear 403 with a way home.
					if f := b.get("/ges/callbacks"); f.Status != http.StatusForbidden {
						t.Fatalf("developer GET /ges/callbacks: %d", f.Status)
					}
					b.open("/ges/callbacks")
					wantContains(t, "403 title", b.text("#error-title"), "Not allowed (403)")
					wantContains(t, "403 message", b.text("#error-message"), "Your role does not allow this")
					b.screenshot("forbidden")
					b.submit("#home")
					if loc := b.location(); !strings.HasSuffix(loc, "/ges/queues") {
						t.Fatalf("the 403 page's link went to %s", loc)
					}
				}
			})
		}
	})

	// Rows of this test's own: Callback_Sales, numbers 1555880000x.
	phones := []string{"+15558800003", "+15558800001", "+15558800004", "+15558800002"}
	var ids []string
	for i, p := range phones {
		ids = append(ids, create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": p, "desiredTime": apiTime(at(11 + i))}))
	}
	const mine = "/ges/callbacks?service=Callback_Sales&phone=155588"
	column := func(b *browser, i int) []string {
		var out []string
		b.eval(`[...document.querySelectorAll("#grid tbody tr")].map(r => r.cells[`+strconv.Itoa(i)+`].innerText.trim())`, &out)
		return out
	}
	ariaSort := func(b *browser, label string) string {
		var v string
		b.eval(`(() => { const th = [...document.querySelectorAll("#grid thead th")].find(h => h.innerText.includes(`+
			"`"+label+"`"+`)); return th ? (th.getAttribute("aria-sort") || "") : "missing"; })()`, &v)
		return v
	}

	t.Run("grid", func(t *testing.T) {
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		b.open(mine)
		// Default order: newest desired time first, said by aria-sort.
		if got := ariaSort(b, "Desired Time"); got != "descending" {
			t.Fatalf("desired time header aria-sort %q", got)
		}
		if got := column(b, 3); !slices.Equal(got, []string{phones[3], phones[2], phones[1], phones[0]}) {
			t.Fatalf("default order: %v", got)
		}
		// A click on a header sorts by it, a second click reverses.
		b.submit(`#grid thead a.sort[href*="sort=phone"]`)
		wantContains(t, "sorted URL", b.location(), "sort=phone")
		if got := ariaSort(b, "Phone Number"); got != "ascending" {
			t.Fatalf("phone header aria-sort after one click %q", got)
		}
		if got := ariaSort(b, "Desired Time"); got != "none" {
			t.Fatalf("desired header aria-sort while sorted by phone %q", got)
		}
		sorted := slices.Clone(phones)
		slices.Sort(sorted)
		if got := column(b, 3); !slices.Equal(got, sorted) {
			t.Fatalf("ascending by phone: %v", got)
		}
		b.submit(`#grid thead a.sort[href*="sort=-phone"]`)
		if got := ariaSort(b, "Phone Number"); got != "descending" {
			t.Fatalf("phone header aria-sort after two clicks %q", got)
		}
		slices.Reverse(sorted)
		if got := column(b, 3); !slices.Equal(got, sorted) {
			t.Fatalf("descending by phone: %v", got)
		}
		// The order survives the live refresh: its URL keeps the sort.
		wantContains(t, "sorted URL", b.location(), "sort=-phone")

		// State badges, readable (WCAG AA: 4.5:1).
		if b.count("#grid td .badge.st-scheduled") != len(phones) {
			t.Fatalf("scheduled badges: %d", b.count("#grid td .badge.st-scheduled"))
		}
		var worst float64
		b.eval(contrastJS+`Math.min(...[...document.querySelectorAll(".badge")].map(e => contrastOf(e)))`, &worst)
		if worst < 4.5 {
			t.Fatalf("a badge's contrast is %.2f", worst)
		}
		// Nothing splits ids, numbers or buttons.
		var split []string
		b.eval(`[...document.querySelectorAll("#grid td.keep, #grid td button")].filter(e => {
			const s = getComputedStyle(e); return s.whiteSpace !== "nowrap" || s.wordBreak === "break-all" || s.wordBreak === "break-word";
		}).map(e => e.outerHTML.slice(0, 80))`, &split)
		if len(split) != 0 {
			t.Fatalf("cells that may split: %v", split)
		}

		// Named controls.
		if k := b.count(`input.pick:not([aria-label^="Select callback "])`); k != 0 {
			t.Fatalf("%d row checkboxes without a name", k)
		}
		if b.count(`#pick-all[aria-label]`) != 1 {
			t.Fatal("no named select-all checkbox")
		}

		// Selection: nothing selected, bulk cancel disabled.
		disabled := func() bool {
			var d bool
			b.eval(`document.getElementById("bulk-cancel").disabled`, &d)
			return d
		}
		wantContains(t, "selected count", b.text("#selected-count"), "0 selected")
		if !disabled() {
			t.Fatal("bulk cancel enabled with nothing selected")
		}
		// Select all, then none.
		b.do(chromedp.Click(chromedp.CSS("#pick-all")))
		wantContains(t, "selected count", b.text("#selected-count"), "4 selected")
		if disabled() || b.count("input.pick:checked") != 4 {
			t.Fatal("select all did not select the rows and enable bulk cancel")
		}
		b.screenshot("selected")
		b.do(chromedp.Click(chromedp.CSS("#pick-all")))
		wantContains(t, "selected count", b.text("#selected-count"), "0 selected")
		if !disabled() || b.count("input.pick:checked") != 0 {
			t.Fatal("unselecting all left rows selected or bulk cancel enabled")
		}
		// The server refuses a bulk cancel of nothing.
		f := b.post("/ges/callbacks/cancel", nil, true)
		if f.Status != http.StatusBadRequest || !strings.Contains(f.Text, "No callbacks were selected") || strings.Contains(f.Text, "0 callbacks cancelled") {
			t.Fatalf("bulk cancel of nothing: %d %s", f.Status, f.Text)
		}
		// Two picked: counted, cancelled, announced in a live region.
		b.do(chromedp.Click(chromedp.CSS(`input.pick[value="`+ids[0]+`"]`)), chromedp.Click(chromedp.CSS(`input.pick[value="`+ids[1]+`"]`)))
		wantContains(t, "selected count", b.text("#selected-count"), "2 selected")
		// The bulk cancel asks first; no changes nothing.
		b.do(chromedp.Click(chromedp.CSS("#bulk-cancel")), chromedp.WaitVisible(chromedp.CSS("#confirm-dialog")))
		wantContains(t, "bulk question", b.text("#confirm-text"), "Cancel 2 selected callbacks?")
		b.dismiss()
		if d := retrieve(t, n, ids[0]); d["callbackState"] != "SCHEDULED" || !strings.Contains(b.location(), "phone=155588") {
			t.Fatalf("a dismissed bulk cancel changed %s (%v) or left the page", ids[0], d)
		}
		b.confirm("#bulk-cancel")
		wantContains(t, "bulk cancel", b.text("#flash"), "2 callbacks cancelled, 0 not cancelled")
		if b.count(`#flash[role="status"][aria-live="polite"]`) != 1 {
			t.Fatal("the message is not in a live region")
		}
		for _, id := range ids[:2] {
			if d := retrieve(t, n, id); d["callbackState"] != "COMPLETED" {
				t.Fatalf("bulk-cancelled %s: %v", id, d)
			}
		}
		// One callback's cancel, on its page: no keeps it, yes cancels it.
		b.open("/ges/callbacks/" + ids[2])
		b.do(chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.CSS("#confirm-dialog")))
		wantContains(t, "cancel question", b.text("#confirm-text"), "Cancel callback "+ids[2]+"?")
		b.screenshot("confirm")
		b.dismiss()
		if d := retrieve(t, n, ids[2]); d["callbackState"] != "SCHEDULED" || b.count("#flash") != 0 {
			t.Fatalf("a dismissed cancel changed the callback: %v", d)
		}
		b.confirm("#cancel")
		wantContains(t, "cancel message", b.text("#flash"), "cancelled")
		// The grid's row cancel asks too.
		b.open(mine)
		b.do(chromedp.Click(chromedp.CSS("#cancel-"+ids[3])), chromedp.WaitVisible(chromedp.CSS("#confirm-dialog")))
		b.dismiss()
		if d := retrieve(t, n, ids[3]); d["callbackState"] != "SCHEDULED" {
			t.Fatalf("a dismissed row cancel changed the callback: %v", d)
		}
		b.open(mine)
		if b.count("#grid td .badge.st-cancelled") != 3 {
			t.Fatalf("cancelled badges: %d", b.count("#grid td .badge.st-cancelled"))
		}
		b.screenshot("grid")
	})

	// A refused create shows the form again with what was typed and why.
	t.Run("create-refused", func(t *testing.T) {
		create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15558800009", "desiredTime": apiTime(at(9))})
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("supervisor", "supervisor-pw")
		desired := at(9).Format("2006-01-02T15:04")
		ud := `{"customerName":"Grace Hopper"}`
		b.do(chromedp.Click(chromedp.CSS("#create-open")),
			chromedp.SetValue(chromedp.CSS("#c-service"), "Callback_Sales"),
			chromedp.SetValue(chromedp.CSS("#c-phone"), "+15558800010"),
			chromedp.SetValue(chromedp.CSS("#c-desired"), desired),
			chromedp.SetValue(chromedp.CSS("#c-userdata"), ud))
		b.submit("#c-submit")
		wantContains(t, "create error", b.text("#create-error"), "Not booked")
		var form struct {
			Service, Phone, Desired, UserData string
			Open                              bool
		}
		b.eval(`({Service: document.getElementById("c-service").value, Phone: document.getElementById("c-phone").value,
			Desired: document.getElementById("c-desired").value, UserData: document.getElementById("c-userdata").value,
			Open: document.getElementById("create-box").open})`, &form)
		if form.Service != "Callback_Sales" || form.Phone != "+15558800010" || form.Desired != desired || form.UserData != ud || !form.Open {
			t.Fatalf("the form after a refused create: %+v", form)
		}
		b.screenshot("create-refused")
		// Bad user data: the same.
		// chromedp.SetValue cannot set "" (the argument is dropped and the
		// field gets "undefined"): clear the text field from the page.
		b.eval(`document.getElementById("c-desired").value = ""; true`, nil)
		b.do(chromedp.SetValue(chromedp.CSS("#c-userdata"), `{"broken":`))
		b.submit("#c-submit")
		wantContains(t, "create error", b.text("#create-error"), "JSON object")
		b.eval(`({Service: document.getElementById("c-service").value, Phone: document.getElementById("c-phone").value,
			Desired: document.getElementById("c-desired").value, UserData: document.getElementById("c-userdata").value,
			Open: document.getElementById("create-box").open})`, &form)
		if form.Phone != "+15558800010" || form.UserData != `{"broken":` || !form.Open {
			t.Fatalf("the form after bad user data: %+v", form)
		}
	})

	// axe-core finds no serious or critical WCAG 2.1 AA violation on the
	// main pages.
	t.Run("accessibility", func(t *testing.T) {
		src := axeSource(t)
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		check := func(name string) {
			t.Helper()
			if v := b.axe(src); len(v) != 0 {
				b.screenshot("axe-" + name)
				t.Errorf("%s: %d serious or critical accessibility violations: %+v", name, len(v), v)
			}
		}
		for _, p := range []struct{ name, path string }{
			{"callbacks", mine}, {"callback", "/ges/callbacks/" + ids[3]}, {"queues", "/ges/queues"},
			{"callin", "/ges/callin"}, {"developer", "/ges/developer"},
		} {
			b.open(p.path)
			b.do(chromedp.WaitVisible(chromedp.CSS("main")))
			check(p.name)
		}
		// The check finds what it should: an unnamed field is critical.
		b.eval(`document.querySelector("main").insertAdjacentHTML("beforeend", '<input id="axe-probe">'); true`, nil)
		if v := b.axe(src); len(v) != 1 || v[0].ID != "label" {
			t.Fatalf("axe-core missed an unnamed field: %+v", v)
		}
		// The create form open, with a refusal shown.
		b.open(mine)
		b.do(chromedp.Click(chromedp.CSS("#create-open")), chromedp.SetValue(chromedp.CSS("#c-phone"), "+15558800011"),
			chromedp.SetValue(chromedp.CSS("#c-userdata"), "no json"))
		b.submit("#c-submit")
		check("create-refused")
		// The confirmation dialog.
		b.open("/ges/callbacks/" + ids[3])
		b.do(chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.CSS("#confirm-dialog")))
		check("confirm")
		b.dismiss()
		// The 403 page and the sign-in page.
		d := newBrowser(t, n.InternalURL)
		d.gwsLogin("developer", "developer-pw")
		d.open("/ges/callbacks")
		if v := d.axe(src); len(v) != 0 {
			t.Errorf("403 page: %+v", v)
		}
		d.submit("#logout")
		if v := d.axe(src); len(v) != 0 {
			t.Errorf("sign-in page: %+v", v)
		}
	})

	// A phone-sized screen: no sideways page scroll, the grid scrolls in
	// its own box; the Queues table fits a laptop screen.
	t.Run("narrow", func(t *testing.T) {
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		fits := func(path string, width int64) {
			t.Helper()
			b.do(chromedp.EmulateViewport(width, 844))
			b.open(path)
			var w int
			b.eval(`document.documentElement.scrollWidth`, &w)
			if w > int(width) {
				b.screenshot("overflow")
				t.Fatalf("%s at %d px is %d px wide", path, width, w)
			}
		}
		fits("/ges/queues", 1440)
		fits(mine, 390)
		var scroll string
		b.eval(`getComputedStyle(document.querySelector(".table-scroll")).overflowX`, &scroll)
		if scroll != "auto" {
			t.Fatalf("grid container overflow-x %q", scroll)
		}
		b.screenshot("narrow")
	})
}

// axeSource returns axe-core's script from the tools cache, where
// scripts/install-deps.sh --build-tools puts it; without it the test is
// skipped locally and fails in CI.
func axeSource(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GES_TOOLS")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "ges-tools")
	}
	file := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	src, err := os.ReadFile(file)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core is required in CI: %v (bash scripts/install-deps.sh --build-tools)", err)
		}
		t.Skipf("no %s: run bash scripts/install-deps.sh --build-tools to check accessibility", file)
	}
	return string(src)
}

// axeViolation is one failed axe-core rule.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// axe runs axe-core's WCAG 2.1 A and AA rules on the page and returns the
// serious and critical violations.
func (b *browser) axe(src string) []axeViolation {
	b.t.Helper()
	var loaded bool
	b.eval(src+";\ntypeof axe === 'object'", &loaded)
	if !loaded {
		b.t.Fatal("axe-core did not load")
	}
	var out []axeViolation
	b.eval(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]})
		.then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => ({ID: v.id, Impact: v.impact, Help: v.help, Nodes: v.nodes.slice(0, 5).map(n => n.html.slice(0, 160))})))`, &out)
	return out
}

// confirm clicks a control that asks for confirmation, answers yes in the
// dialog and waits for the next page.
func (b *browser) confirm(sel string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS("#confirm-dialog")))
	b.submit("#confirm-yes")
}

// dismiss answers no in the open confirmation dialog.
func (b *browser) dismiss() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS("#confirm-no")), chromedp.WaitNotVisible(chromedp.CSS("#confirm-dialog")))
}

// contrastJS defines contrastOf(element): the WCAG contrast ratio of its
// text colour on its background colour (both opaque rgb).
const contrastJS = `
function lum(c) {
	const [r, g, b] = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map(v => v / 255)
		.map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
	return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrastOf(e) {
	const s = getComputedStyle(e), a = lum(s.color), b = lum(s.backgroundColor);
	return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
`
