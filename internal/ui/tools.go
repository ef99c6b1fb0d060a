package ui

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/chart"
	"github.com/gesgo/ges/internal/discovery"
	"github.com/gesgo/ges/internal/voice"
)

// Waits estimates the wait in a virtual queue (URS' lvq).
type Waits interface {
	LVQ(ctx context.Context, tenant, vq, aqt string) (voice.Estimate, error)
}

// StateHour is how many callbacks entered a state in an hour.
type StateHour struct {
	Hour  time.Time
	State string
	Count int
}

const (
	isoDate = "2006-01-02"
	// chartHours is how far back the Queues page's state chart goes.
	chartHours = 12
	// ewtTimeout bounds the URS question of one queue.
	ewtTimeout = 1500 * time.Millisecond
)

// capacityRow is one slot of the Capacity tool.
type capacityRow struct {
	Start, End    string
	Booked, Total int
	Free          int
	Over          bool
}

// capacityPage draws, for a service and a day of its time zone, the
// booked places against the capacity of each slot (Tools > Capacity).
func (u *UI) capacityPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	services := u.services(r.Context(), sess)
	name := r.URL.Query().Get("service")
	if name == "" && len(services) > 0 {
		name = services[0]
	}
	data := map[string]any{"Services": services, "Service": name}
	svc, ok := u.d.Settings.Service(sess.Tenant, name)
	if name != "" && (!ok || !u.canSee(r.Context(), sess, name)) {
		data["Error"] = "No such service: " + name
		u.render(w, r, http.StatusNotFound, "capacity", sess, data)
		return
	}
	if svc == nil {
		u.render(w, r, http.StatusOK, "capacity", sess, data)
		return
	}
	loc := svc.Location
	if loc == nil {
		loc = time.UTC
	}
	dayText := strings.TrimSpace(r.URL.Query().Get("date"))
	if dayText == "" {
		dayText = u.d.Clock.Now().In(loc).Format(isoDate)
	}
	data["Date"], data["Zone"] = dayText, loc.String()
	day, err := time.ParseInLocation(isoDate, dayText, loc)
	if err != nil {
		data["Error"] = "The date must be YYYY-MM-DD: " + dayText
		u.render(w, r, http.StatusBadRequest, "capacity", sess, data)
		return
	}
	data["Prev"], data["Next"] = day.AddDate(0, 0, -1).Format(isoDate), day.AddDate(0, 0, 1).Format(isoDate)
	slots, err := u.d.Callbacks.Load(r.Context(), sess.Tenant, svc, day, day.AddDate(0, 0, 1))
	if err != nil {
		u.fail(w, r, http.StatusServiceUnavailable, "Callback storage is unavailable, try again.")
		return
	}
	c := chart.Chart{ID: "capacity-chart", Width: 900, Height: 280,
		Title:  fmt.Sprintf("Booked and capacity per slot, %s on %s", name, dayText),
		Series: []chart.Series{{Name: "Booked"}, {Name: "Capacity"}}}
	var rows []capacityRow
	booked, total := 0, 0
	for _, s := range slots {
		start := s.Start.In(loc).Format("15:04")
		c.Labels = append(c.Labels, start)
		c.Series[0].Values = append(c.Series[0].Values, float64(s.Booked))
		c.Series[1].Values = append(c.Series[1].Values, float64(s.Total))
		rows = append(rows, capacityRow{Start: start, End: s.End.In(loc).Format("15:04"), Booked: s.Booked, Total: s.Total,
			Free: max(s.Total-s.Booked, 0), Over: s.Booked > s.Total})
		booked += s.Booked
		total += s.Total
	}
	c.Desc = fmt.Sprintf("%d slots of %d minutes (%s): %d of %d places booked.", len(slots), svc.SlotMinutes, loc, booked, total)
	data["Chart"], data["Rows"], data["Booked"], data["Total"] = c.Figure(c.BarSVG()), rows, booked, total
	u.render(w, r, http.StatusOK, "capacity", sess, data)
}

// regionsPage lists the ORS and URS nodes discovery knows, their region
// and health, and the region calls go to (Tools > Region Affinity).
func (u *UI) regionsPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	var pools []discovery.Snapshot
	if u.d.Nodes != nil {
		pools = u.d.Nodes()
	}
	u.render(w, r, http.StatusOK, "regions", sess, map[string]any{"Pools": pools, "Available": u.d.Nodes != nil})
}

// queueCharts are the pictures of the Queues page.
type queueCharts struct {
	States, EWT, Fill any // template.HTML, nil when not available
	// EWTs are the waits per service in seconds (-1: unknown), Fills
	// today's places per service: the tables under the charts.
	EWTs  []ewtRow
	Fills []fillRow
}

type fillRow struct {
	Service       string
	Booked, Total int
	Percent       string
}

type ewtRow struct {
	Service string
	EWT     int
	Note    string
}

// queueChartsOf draws the callbacks per state in the last hours, the
// expected wait per queue and the places booked today.
func (u *UI) queueChartsOf(ctx context.Context, sess *Session, services []string) queueCharts {
	var qc queueCharts
	now := u.d.Clock.Now().UTC()
	if u.d.StateHours != nil {
		first := now.Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
		rows, err := u.d.StateHours(ctx, sess.Tenant, services, first)
		if err != nil {
			slog.Warn("UI: state chart query failed", "err", err)
		} else {
			c := chart.Chart{ID: "states-chart", Width: 640, Height: 240,
				Title: fmt.Sprintf("State changes per hour, last %d hours (UTC)", chartHours)}
			idx := map[callback.State]int{}
			for i, st := range states {
				idx[st] = i
				c.Series = append(c.Series, chart.Series{Name: string(st), Values: make([]float64, chartHours)})
			}
			for h := 0; h < chartHours; h++ {
				c.Labels = append(c.Labels, first.Add(time.Duration(h)*time.Hour).Format("15:04"))
			}
			n := 0
			for _, row := range rows {
				h := int(row.Hour.UTC().Sub(first) / time.Hour)
				i, ok := idx[callback.State(row.State)]
				if ok && h >= 0 && h < chartHours {
					c.Series[i].Values[h] += float64(row.Count)
					n += row.Count
				}
			}
			c.Desc = fmt.Sprintf("%d state changes of callbacks of the visible services since %s UTC, one line per state.", n, first.Format("2006-01-02 15:04"))
			qc.States = c.Figure(c.LineSVG())
		}
	}
	if u.d.Waits != nil && len(services) > 0 {
		qc.EWTs = u.waits(ctx, sess, services)
		c := chart.Chart{ID: "ewt-chart", Width: 640, Height: 240, Title: "Expected wait per queue (seconds)",
			Series: []chart.Series{{Name: "EWT (s)"}}}
		known := 0
		for _, e := range qc.EWTs {
			c.Labels = append(c.Labels, e.Service)
			c.Series[0].Values = append(c.Series[0].Values, float64(max(e.EWT, 0)))
			if e.EWT >= 0 {
				known++
			}
		}
		c.Desc = fmt.Sprintf("URS' estimated wait of %d queues (%d known; unknown drawn as 0).", len(qc.EWTs), known)
		qc.EWT = c.Figure(c.BarSVG())
	}
	if len(services) > 0 {
		c := chart.Chart{ID: "fill-chart", Width: 640, Height: 240, Title: "Slot fill today (% of the places booked)", Max: 100,
			Series: []chart.Series{{Name: "Booked %"}}}
		booked, total := 0, 0
		for _, name := range services {
			svc, ok := u.d.Settings.Service(sess.Tenant, name)
			if !ok {
				continue
			}
			loc := svc.Location
			if loc == nil {
				loc = time.UTC
			}
			y, m, d := now.In(loc).Date()
			day := time.Date(y, m, d, 0, 0, 0, 0, loc)
			slots, err := u.d.Callbacks.Load(ctx, sess.Tenant, svc, day, day.AddDate(0, 0, 1))
			if err != nil {
				slog.Warn("UI: slot fill failed", "service", name, "err", err)
				continue
			}
			b, t := 0, 0
			for _, s := range slots {
				b, t = b+s.Booked, t+s.Total
			}
			pct := 0.0
			if t > 0 {
				pct = math.Round(float64(b)*1000/float64(t)) / 10
			}
			c.Labels = append(c.Labels, name)
			c.Series[0].Values = append(c.Series[0].Values, pct)
			qc.Fills = append(qc.Fills, fillRow{Service: name, Booked: b, Total: t, Percent: strconv.FormatFloat(pct, 'f', 1, 64)})
			booked, total = booked+b, total+t
		}
		c.Desc = fmt.Sprintf("Places booked in today's slots (each service's time zone): %d of %d.", booked, total)
		qc.Fill = c.Figure(c.BarSVG())
	}
	return qc
}

// waits asks URS for every service's wait at once.
func (u *UI) waits(ctx context.Context, sess *Session, services []string) []ewtRow {
	tenant := sess.TenantName
	if tenant == "" {
		if t, err := u.d.Tenants.ByID(ctx, sess.Tenant); err == nil {
			tenant = t.Name
		}
	}
	out := make([]ewtRow, len(services))
	var wg sync.WaitGroup
	for i, name := range services {
		wg.Go(func() {
			qctx, cancel := context.WithTimeout(ctx, ewtTimeout)
			defer cancel()
			e, err := u.d.Waits.LVQ(qctx, tenant, name, voice.AQT["mode2"])
			row := ewtRow{Service: name, EWT: e.EWT}
			switch {
			case err != nil:
				row.EWT, row.Note = -1, "unknown"
			case e.NoAgents:
				row.EWT, row.Note = -1, "no agents"
			case e.EWT < 0:
				row.Note = "unknown"
			}
			out[i] = row
		})
	}
	wg.Wait()
	return out
}
