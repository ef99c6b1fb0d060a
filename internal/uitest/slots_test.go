package uitest

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestSlotPickerUI covers the slot picker (a tab a day over the horizon,
// cells with their free places shaded by fill), the display zone (the
// service's, UTC or the browser's; ISO inputs read in the zone shown)
// and the grid's details side panel. Callback_Support is in
// America/New_York.
func TestSlotPickerUI(t *testing.T) {
	s := uiStack(t, nil)
	n := s.Nodes[0]
	day := time.Now().UTC().Add(24 * time.Hour).Truncate(24 * time.Hour)
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	// 14:00 UTC tomorrow is 09:00 in New York (EST in winter, EDT in summer).
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	local := at(14).In(ny).Format("15:04")
	id := create(t, n, map[string]any{"serviceName": "Callback_Support", "phoneNumber": "+15557700001", "desiredTime": apiTime(at(14))})
	slot := func(h int) string { return `button.slot[data-start="` + at(h).Format(time.RFC3339) + `"]` }

	t.Run("picker", func(t *testing.T) {
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		b.open("/ges/callbacks/" + id)
		// A tab a day over the 14-day horizon (today's rest included).
		if k := b.count("#slots a.slot-tab"); k < 14 || k > 15 {
			t.Fatalf("%d day tabs, want the 14-day horizon", k)
		}
		if b.count(`#slots a.slot-tab[aria-current]`) != 1 {
			t.Fatal("no day tab is marked as the one shown")
		}
		// The callback's own slot has one place fewer (of 100) and is
		// shaded; an untouched one is not.
		var cell struct {
			Free, Class, Name string
		}
		b.eval(`(() => { const c = document.querySelector('`+slot(14)+`');
			return {Free: c.dataset.free, Class: c.className, Name: c.textContent.replace(/\s+/g, " ").trim()}; })()`, &cell)
		if cell.Free != "99" || !strings.Contains(cell.Class, "fill-1") || cell.Name != local+", 99 free of 100" {
			t.Fatalf("the booked slot's cell: %+v", cell)
		}
		if c := b.count(slot(15) + `.fill-0[data-free="100"]`); c != 1 {
			t.Fatalf("an empty slot is not shown as fill-0 with 100 free")
		}
		// The cells are keyboard reachable buttons.
		var focused string
		b.eval(`(() => { document.querySelector('`+slot(15)+`').focus(); return document.activeElement.dataset.start || ""; })()`, &focused)
		if focused != at(15).Format(time.RFC3339) {
			t.Fatalf("the slot cell does not take the focus: %q", focused)
		}
		b.screenshot("picker")
		// Another day's tab shows that day's cells without leaving the page.
		other := at(24 * 3).In(ny).Format("2006-01-02")
		b.do(chromedp.Click(chromedp.CSS(`#slots a.slot-tab[data-day="`+other+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#slots .slot-day[data-day="`+other+`"]`)))
		wantContains(t, "still on the callback", b.location(), "/ges/callbacks/"+id)
		// Choosing a cell reschedules.
		b.open("/ges/callbacks/" + id)
		b.submit(slot(15))
		wantContains(t, "reschedule message", b.text("#flash"), "rescheduled")
		if d := retrieve(t, n, id); d["desiredTime"] != apiTime(at(15)) {
			t.Fatalf("not rescheduled by the cell: %v", d)
		}
		if b.count(slot(15)+`[data-free="99"]`) != 1 || b.count(slot(14)+`[data-free="100"]`) != 1 {
			t.Fatal("the cells do not follow the reschedule")
		}
		// Back to 14:00 for the zone test.
		b.submit(slot(14))
	})

	t.Run("zones", func(t *testing.T) {
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		if _, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
			t.Fatalf("browser zone: %v", err)
		}
		b.open("/ges/callbacks/" + id)
		// The service's zone and UTC, the service's zone shown by default.
		wantContains(t, "UTC time", b.text("#cb-desired"), at(14).Format("2006-01-02 15:04"))
		wantContains(t, "local time", b.text("#cb-desired-local"), local)
		wantContains(t, "shown time", b.text("#cb-desired-shown"), local)
		wantContains(t, "cell time", b.text(slot(14)+" .slot-time"), local)
		// Switch to UTC: the shown times change, and stay after a reload.
		b.do(chromedp.SetValue(chromedp.CSS("#tz"), "UTC"))
		b.submit("#tz-apply")
		wantContains(t, "shown in UTC", b.text("#cb-desired-shown"), "14:00 UTC")
		wantContains(t, "cell in UTC", b.text(slot(14)+" .slot-time"), "14:00")
		b.open("/ges/callbacks/" + id)
		wantContains(t, "UTC remembered", b.text("#cb-desired-shown"), "14:00 UTC")
		// The browser's zone (Tokyo, UTC+9): chosen on change, no button.
		b.do(chromedp.WaitEnabled(chromedp.CSS("#tz-browser")))
		b.eval(`(() => { const s = document.getElementById("tz"); s.value = "Asia/Tokyo"; s.dispatchEvent(new Event("change")); return true; })()`, nil)
		b.waitJS(`(document.getElementById("cb-desired-shown") || {textContent: ""}).textContent.includes("23:00 JST")`)
		// An ISO time without offset is read in the zone its label names.
		wantContains(t, "input label", b.text(`label:has(#r-desired)`), "Asia/Tokyo")
		b.do(chromedp.SetValue(chromedp.CSS("#r-desired"), at(24+2).In(time.FixedZone("JST", 9*3600)).Format("2006-01-02T15:04")))
		b.submit("#r-submit")
		wantContains(t, "reschedule message", b.text("#flash"), "rescheduled")
		if d := retrieve(t, n, id); d["desiredTime"] != apiTime(at(24+2)) {
			t.Fatalf("the Tokyo time was not converted: %v", d)
		}
		// Back to the service's zone; RFC 3339 with an offset still works.
		b.open("/ges/callbacks/" + id + "?tz=service")
		b.do(chromedp.SetValue(chromedp.CSS("#r-desired"), at(14).Format(time.RFC3339)))
		b.submit("#r-submit")
		if d := retrieve(t, n, id); d["desiredTime"] != apiTime(at(14)) {
			t.Fatalf("an RFC 3339 time was not taken as it is: %v", d)
		}
		wantContains(t, "service zone again", b.text("#cb-desired-shown"), local)

		// The grid follows the display zone too, naming it in the header
		// and in each time.
		b.open("/ges/callbacks?service=Callback_Support&tz=service")
		wantContains(t, "grid header", b.text("#grid thead"), "Desired Time (service's zone)")
		wantContains(t, "grid in the service's zone", b.text("#row-"+id), local)
		b.open("/ges/callbacks?service=Callback_Support&tz=UTC")
		wantContains(t, "grid header in UTC", b.text("#grid thead"), "Desired Time (UTC)")
		wantContains(t, "grid in UTC", b.text("#row-"+id), at(14).Format("2006-01-02 15:04")+":00 UTC")
	})

	t.Run("panel", func(t *testing.T) {
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		grid := "/ges/callbacks?service=Callback_Support"
		b.open(grid)
		link := `#row-` + id + ` a.cb-link`
		b.do(chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.CSS("#side-panel #panel-cb-state")))
		wantContains(t, "still on the grid", b.location(), grid)
		wantContains(t, "panel state", b.text("#panel-cb-state"), "SCHEDULED")
		wantContains(t, "panel history", b.text("#panel-history"), "SCHEDULED")
		if b.count("#side-panel #panel-cancel") != 1 || b.count("#side-panel button.slot") == 0 {
			t.Fatal("the panel offers no actions")
		}
		var active string
		b.eval(`document.activeElement.id`, &active)
		if active != "panel-cb-title" {
			t.Fatalf("the focus is on %q, not in the panel", active)
		}
		b.screenshot("panel")
		axeCheck(t, b, "panel")
		// Escape closes it and gives the focus back to the link.
		b.do(chromedp.KeyEvent("\x1b"), chromedp.WaitNotVisible(chromedp.CSS("#side-panel")))
		b.eval(`document.activeElement.closest("tr") ? document.activeElement.closest("tr").id : ""`, &active)
		if active != "row-"+id {
			t.Fatalf("the focus went to %q, not back to the row's link", active)
		}
		// The link is a normal link: it opens the page when followed.
		var href string
		b.eval(`document.querySelector('`+link+`').getAttribute("href")`, &href)
		if href != "/ges/callbacks/"+id {
			t.Fatalf("the id's link is %q", href)
		}
	})

	t.Run("accessibility", func(t *testing.T) {
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		b.open("/ges/callbacks/" + id)
		axeCheck(t, b, "callback")
		b.open("/ges/callbacks?service=Callback_Support")
		b.do(chromedp.Click(chromedp.CSS("#create-open")), chromedp.Click(chromedp.CSS("#c-slots-box summary")),
			chromedp.WaitVisible(chromedp.CSS("#create #slots button.slot")))
		axeCheck(t, b, "create")
		// The create form's picker follows the service and books a slot.
		b.do(chromedp.SetValue(chromedp.CSS("#c-service"), "Callback_Support"))
		b.eval(`document.getElementById("c-service").dispatchEvent(new Event("change")); true`, nil)
		b.waitJS(`document.getElementById("c-zone").textContent === "America/New_York" && document.getElementById("slots").dataset.zone === "America/New_York"`)
		// Another day in the create form's picker, fetched in place.
		other := at(24 * 2).In(ny).Format("2006-01-02")
		b.do(chromedp.Click(chromedp.CSS(`#create #slots a.slot-tab[data-day="`+other+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#create #slots .slot-day[data-day="`+other+`"] button.slot`)))
		b.do(chromedp.SetValue(chromedp.CSS("#c-phone"), "+15557700002"))
		first := ""
		b.eval(`document.querySelector("#create #slots button.slot:not([disabled])").dataset.start`, &first)
		b.submit(`#create #slots button.slot[data-start="` + first + `"]`)
		wantContains(t, "booked from the picker", b.text("#flash"), "booked")
		booked := b.text("#cb-id")
		wantContains(t, "booked on the chosen day", b.text("#cb-desired-local"), other)
		// Without script, a day tab is a link to the grid with the form open on that day.
		b.open("/ges/callbacks?cservice=Callback_Support&day=" + other)
		if b.count(`#create-box[open] #c-slots-box[open] #slots .slot-day[data-day="`+other+`"]`) != 1 {
			t.Fatal("the day link does not open the create form on that day")
		}
		if d := retrieve(t, n, booked); d["desiredTime"] == nil || !sameInstant(t, d["desiredTime"].(string), first) {
			t.Fatalf("booked at %v, chose %s", d["desiredTime"], first)
		}
	})
}

func sameInstant(t *testing.T, a, b string) bool {
	t.Helper()
	x, err1 := time.Parse(time.RFC3339, a)
	y, err2 := time.Parse(time.RFC3339, b)
	return err1 == nil && err2 == nil && x.Equal(y)
}

// axeCheck fails the test on a serious or critical axe-core finding.
func axeCheck(t *testing.T, b *browser, name string) {
	t.Helper()
	if v := b.axe(axeSource(t)); len(v) != 0 {
		b.screenshot("axe-" + name)
		t.Errorf("%s: %d serious or critical accessibility violations: %+v", name, len(v), v)
	}
}

// waitJS waits until a JavaScript expression is true.
func (b *browser) waitJS(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		// A navigation during the poll ends it: poll the new page.
		_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 1500) : ""`))
			b.t.Fatalf("waiting for %s: %v\n%s", expr, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
