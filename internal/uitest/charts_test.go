package uitest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// attr reads an attribute of the first element matching sel ("" when
// none matches).
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? (e.getAttribute(%q) || "") : ""; })()`, sel, name), &s)
	return s
}

// sum adds the data-value attributes of the elements matching sel.
func (b *browser) sum(sel string) float64 {
	b.t.Helper()
	var n float64
	b.eval(fmt.Sprintf(`[...document.querySelectorAll(%q)].reduce((a, e) => a + Number(e.getAttribute("data-value")), 0)`, sel), &n)
	return n
}

// The Tools pages and the Queues pictures: server-rendered SVG whose bars
// carry the numbers of callbacks booked through the API, and the roles
// that may open them.
func TestCharts(t *testing.T) {
	s := uiStack(t, map[string]string{"REGION_AFFINITY": "westus2,eastus"})
	n := s.Nodes[0]
	now := time.Now().UTC()
	tomorrow := now.Add(24 * time.Hour).Truncate(24 * time.Hour)
	at := func(h int) time.Time { return tomorrow.Add(time.Duration(h) * time.Hour) }
	// Callback_Sales holds one callback per slot: 10:00 tomorrow is full,
	// 11:00 is free.
	create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550001001", "desiredTime": apiTime(at(10))})
	create(t, n, map[string]any{"serviceName": "Callback_Support", "phoneNumber": "+15550001002", "desiredTime": apiTime(at(10))})
	// One more today when today still has a slot ahead.
	bookedToday := 0
	if soon := now.Add(20 * time.Minute); soon.Day() == now.Day() {
		create(t, n, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550001003", "desiredTime": apiTime(soon)})
		bookedToday = 1
	}
	day := tomorrow.Format("2006-01-02")

	t.Run("admin", func(t *testing.T) {
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		for _, sel := range []string{"#tab-capacity", "#tab-regions"} {
			if b.count(sel) != 1 {
				t.Fatalf("an administrator is not offered %s", sel)
			}
		}

		// Capacity: a bar pair per slot, the same numbers as the table.
		b.open("/ges/tools/capacity?service=Callback_Sales&date=" + day)
		b.do(chromedp.WaitVisible(chromedp.CSS("#capacity-chart")))
		rows := b.count("#capacity-table tbody tr[data-slot]")
		if rows == 0 || b.count("#capacity-chart rect.bar") != 2*rows {
			t.Fatalf("%d slots in the table, %d bars", rows, b.count("#capacity-chart rect.bar"))
		}
		if v := b.attr(`#capacity-chart rect.bar[data-label="10:00"][data-series="Booked"]`, "data-value"); v != "1" {
			t.Fatalf("booked bar of 10:00: %q, want 1", v)
		}
		if v := b.attr(`#capacity-chart rect.bar[data-label="10:00"][data-series="Capacity"]`, "data-value"); v != "1" {
			t.Fatalf("capacity bar of 10:00: %q, want 1", v)
		}
		if v := b.attr(`#capacity-chart rect.bar[data-label="11:00"][data-series="Booked"]`, "data-value"); v != "0" {
			t.Fatalf("booked bar of 11:00: %q, want 0", v)
		}
		if got := b.text(`#capacity-table tr[data-slot="10:00"] .booked`); got != "1" {
			t.Fatalf("table: 10:00 booked %q", got)
		}
		if got := b.sum(`#capacity-chart rect.bar[data-series="Booked"]`); got != 1 {
			t.Fatalf("booked bars add up to %v, want 1", got)
		}
		var desc string
		b.eval(`document.querySelector("#capacity-chart desc").textContent`, &desc)
		wantContains(t, "chart description", desc, "1 of")
		b.screenshot("capacity")

		// The picker: another service and day through the form.
		b.do(chromedp.SetValue(chromedp.CSS("#cap-service"), "Callback_Support"),
			chromedp.SetValue(chromedp.CSS("#cap-date"), day))
		b.submit("#cap-show")
		wantContains(t, "location", b.location(), "service=Callback_Support")
		if got := b.sum(`#capacity-chart rect.bar[data-series="Booked"]`); got != 1 {
			t.Fatalf("Support's booked bars add up to %v, want 1", got)
		}
		if f := b.get("/ges/tools/capacity?service=Callback_Sales&date=31.12.2026"); f.Status != http.StatusBadRequest {
			t.Fatalf("a date not in ISO format: %d", f.Status)
		}
		if f := b.get("/ges/tools/capacity?service=Nope"); f.Status != http.StatusNotFound {
			t.Fatalf("an unknown service: %d", f.Status)
		}

		// Queues: states over the last hours, EWT per queue, today's fill.
		b.open("/ges/queues")
		b.do(chromedp.WaitVisible(chromedp.CSS("#states-chart")))
		if got := b.count("#states-chart circle"); got != 5*12 {
			t.Fatalf("state chart: %d points, want 5 states × 12 hours", got)
		}
		if got := b.sum(`#states-chart circle[data-series="SCHEDULED"]`); got < float64(2+bookedToday) {
			t.Fatalf("state chart: %v changes into SCHEDULED, want at least %d", got, 2+bookedToday)
		}
		if v := b.attr(`#ewt-chart rect.bar[data-label="Callback_Sales"]`, "data-value"); v != "42" {
			t.Fatalf("EWT bar of Callback_Sales: %q, want 42 (gessim's URS)", v)
		}
		if got := b.text(`#fill-table tr[data-service="Callback_Sales"] .booked`); got != fmt.Sprint(bookedToday) {
			t.Fatalf("today's places booked of Callback_Sales: %q, want %d", got, bookedToday)
		}
		if v := b.attr(`#fill-chart rect.bar[data-label="Callback_Sales"]`, "data-value"); (v != "0") != (bookedToday > 0) {
			t.Fatalf("today's fill bar of Callback_Sales: %q %%, with %d booked", v, bookedToday)
		}
		if got := b.count("main figure svg.chart"); got != 3 {
			t.Fatalf("%d charts on the Queues page, want 3", got)
		}
		b.screenshot("queues")

		// Region Affinity: the nodes of the static lists, healthy, and
		// the configured order.
		b.open("/ges/tools/regions")
		b.do(chromedp.WaitVisible(chromedp.CSS("section.pool")))
		if got := b.count(`tr.node[data-healthy="true"]`); got < 2 {
			t.Fatalf("%d healthy nodes listed, want ORS and URS", got)
		}
		wantContains(t, "affinity", b.text("section.pool .affinity"), "westus2 → eastus")
		b.screenshot("regions")
	})

	// No serious or critical WCAG 2.1 AA violation on the chart pages.
	t.Run("accessibility", func(t *testing.T) {
		src := axeSource(t)
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("admin", "admin-pw")
		for _, p := range []string{"/ges/tools/capacity?service=Callback_Sales&date=" + day, "/ges/tools/regions", "/ges/queues"} {
			b.open(p)
			b.do(chromedp.WaitVisible(chromedp.CSS("main")))
			if v := b.axe(src); len(v) != 0 {
				t.Errorf("%s: %d serious or critical accessibility violations: %+v", p, len(v), v)
			}
		}
	})

	t.Run("monitor", func(t *testing.T) {
		b := newBrowser(t, n.InternalURL)
		b.gwsLogin("monitor", "monitor-pw")
		if b.count("#tab-capacity") != 1 || b.count("#tab-regions") != 0 {
			t.Fatal("a monitor's Tools: Capacity only")
		}
		if f := b.get("/ges/tools/regions"); f.Status != http.StatusForbidden {
			t.Fatalf("monitor GET /ges/tools/regions: %d", f.Status)
		}
		// Line of business: Support is not the Sales monitor's.
		if f := b.get("/ges/tools/capacity?service=Callback_Support&date=" + day); f.Status != http.StatusNotFound {
			t.Fatalf("monitor reads Support's capacity: %d", f.Status)
		}
		b.open("/ges/tools/capacity?date=" + day)
		if v := b.attr(`#capacity-chart rect.bar[data-label="10:00"][data-series="Booked"]`, "data-value"); v != "1" {
			t.Fatalf("monitor: booked bar of 10:00: %q", v)
		}
		if b.count(`#cap-service option[value="Callback_Support"]`) != 0 {
			t.Fatal("a Sales monitor is offered Support")
		}
		b.screenshot("monitor-capacity")
	})
}
