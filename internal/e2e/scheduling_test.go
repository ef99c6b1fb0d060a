package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

type row = map[string]any

// publishTable replaces the Demo tenant's CALLBACK_SETTINGS through node n.
func publishTable(t *testing.T, s *testenv.Stack, n *testenv.Node, rows ...row) {
	t.Helper()
	code, b := n.Internal(t, "PUT", "/ges/v1/datatables/CALLBACK_SETTINGS", demoCCID(s), map[string]any{"table": "CALLBACK_SETTINGS", "rows": rows})
	if code != 200 {
		t.Fatalf("publish: %d %s", code, b)
	}
}

type slotResp struct {
	UTC, Local    string
	Capacity, Tot int
}

func availability(t *testing.T, n *testenv.Node, service string, q url.Values) (int, []slotResp, map[string]any) {
	t.Helper()
	code, resp := n.External(t, "GET", "/engagement/v3/callbacks/availability/"+url.PathEscape(service)+"?"+q.Encode(), demoKey, nil)
	if code != 200 {
		return code, nil, resp
	}
	data := resp["data"].(map[string]any)
	var out []slotResp
	for _, x := range data["slots"].([]any) {
		m := x.(map[string]any)
		out = append(out, slotResp{m["utcTime"].(string), m["localTime"].(string), int(m["capacity"].(float64)), int(m["total"].(float64))})
	}
	return code, out, data
}

func openFor(t *testing.T, n *testenv.Node, service string, q url.Values) int {
	t.Helper()
	code, resp := n.External(t, "GET", "/engagement/v3/callbacks/open-for/"+url.PathEscape(service)+"?"+q.Encode(), demoKey, nil)
	if code != 200 {
		t.Fatalf("open-for %s %v: %d %v", service, q, code, resp)
	}
	return int(resp["data"].(map[string]any)["openFor"].(float64))
}

func TestSlotsAndOpenForAcrossDSTAndSpecialDays(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{NoPublish: true})
	n := s.Nodes[0]
	publishTable(t, s, n,
		row{"key": "Callback_NY", "columns": row{"Time Zone": "America/New_York", "Business Hours": "Mon-Sun 09:00-17:00",
			"Slot Duration (min)": "60", "Capacity": "5", "Special Days": "2027-11-25 closed; 2027-12-24 09:00-12:00"}},
		row{"key": "Callback_London", "columns": row{"Time Zone": "Europe/London", "Business Hours": "Daily 24h", "Slot Duration (min)": "60"}},
		row{"key": "Callback_Night", "columns": row{"Time Zone": "UTC", "Business Hours": "Fri 22:00-02:00", "Slot Duration (min)": "60"}},
		row{"key": "bh svc/é", "columns": row{"Time Zone": "UTC", "Business Hours": "Daily 24h"}},
	)
	day := func(service, tz, date string) []slotResp {
		code, slots, resp := availability(t, n, service, url.Values{"start": {date + "T00:00:00"}, "timezone": {tz}})
		if code != 200 {
			t.Fatalf("%s %s: %d %v", service, date, code, resp)
		}
		return slots
	}
	// New York, spring forward (2027-03-14) and fall back (2027-11-07):
	// 09:00-17:00 local every day, whatever the offset.
	for _, c := range []struct{ date, firstUTC, offset string }{
		{"2027-03-13", "2027-03-13T14:00:00.000Z", "-05:00"},
		{"2027-03-14", "2027-03-14T13:00:00.000Z", "-04:00"},
		{"2027-11-06", "2027-11-06T13:00:00.000Z", "-04:00"},
		{"2027-11-07", "2027-11-07T14:00:00.000Z", "-05:00"},
	} {
		slots := day("Callback_NY", "America/New_York", c.date)
		if len(slots) != 8 || slots[0].UTC != c.firstUTC || slots[0].Local != c.date+"T09:00:00.000"+c.offset || slots[0].Tot != 5 {
			t.Errorf("NY %s: %+v", c.date, slots)
		}
	}
	// London open all day: the change days have 23 and 25 hours.
	for _, c := range []struct {
		date  string
		slots int
	}{{"2027-03-28", 23}, {"2027-10-30", 24}, {"2027-10-31", 25}} {
		if got := day("Callback_London", "Europe/London", c.date); len(got) != c.slots {
			t.Errorf("London %s: %d slots", c.date, len(got))
		}
	}
	fallBack := day("Callback_London", "Europe/London", "2027-10-31")
	if fallBack[1].Local != "2027-10-31T01:00:00.000+01:00" || fallBack[2].Local != "2027-10-31T01:00:00.000+00:00" {
		t.Errorf("London fall-back hour: %+v", fallBack[:3])
	}
	// Special days: closed, and with hours of their own.
	if got := day("Callback_NY", "America/New_York", "2027-11-25"); len(got) != 0 {
		t.Errorf("closed special day: %+v", got)
	}
	if got := day("Callback_NY", "America/New_York", "2027-12-24"); len(got) != 3 || !strings.HasPrefix(got[2].Local, "2027-12-24T11:00") {
		t.Errorf("special day hours: %+v", got)
	}
	// Hours crossing midnight: Friday 22:00 to Saturday 02:00.
	_, night, _ := availability(t, n, "Callback_Night", url.Values{"start": {"2027-12-03T20:00:00.000Z"}, "numberOfDays": {"1"}})
	var got []string
	for _, sl := range night {
		got = append(got, sl.UTC[11:16])
	}
	if strings.Join(got, ",") != "22:00,23:00,00:00,01:00" {
		t.Errorf("crossing midnight: %v", got)
	}
	// open-for, with every start form.
	for _, c := range []struct {
		service string
		q       url.Values
		want    int
	}{
		{"Callback_NY", url.Values{"start": {"2027-03-15T16:00:00"}, "timezone": {"America/New_York"}}, 3600},
		{"Callback_NY", url.Values{"start": {"2027-03-15T20:00:00.000Z"}}, 3600},
		{"Callback_NY", url.Values{"start": {"2027-03-15T16:00:00-04:00"}}, 3600},
		{"Callback_NY", url.Values{"startMS": {fmt.Sprint(time.Date(2027, 3, 15, 20, 0, 0, 0, time.UTC).UnixMilli())}}, 3600},
		{"Callback_NY", url.Values{"start": {"2027-03-15T18:00:00"}, "timezone": {"America/New_York"}}, 0},
		{"Callback_NY", url.Values{"start": {"2027-11-25T10:00:00"}, "timezone": {"America/New_York"}}, 0},
		{"Callback_Night", url.Values{"start": {"2027-12-03T23:30:00Z"}}, 9000},
		{"Callback_London", url.Values{"start": {"2027-06-01T00:00:00Z"}}, 7 * 24 * 3600},
		{"bh svc/é", url.Values{}, 7 * 24 * 3600},
	} {
		if got := openFor(t, n, c.service, c.q); got != c.want {
			t.Errorf("open-for %s %v: %d, want %d", c.service, c.q, got, c.want)
		}
	}
	// Parameter rules.
	_, slots, data := availability(t, n, "Callback_London", url.Values{"start": {"2027-06-01T00:00:00.000Z"}, "numberOfDays": {"2"}, "maxTimeSlots": {"5"}, "timezone": {"Asia/Kolkata"}})
	if len(slots) != 5 || data["durationMin"].(float64) != 60 || data["timezone"] != "Asia/Kolkata" || !strings.HasSuffix(slots[0].Local, "+05:30") {
		t.Errorf("maxTimeSlots/timezone: %v %+v", data, slots)
	}
	if _, slots, _ := availability(t, n, "Callback_London", url.Values{"startMS": {fmt.Sprint(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC).UnixMilli())}, "endMS": {fmt.Sprint(time.Date(2027, 6, 1, 3, 0, 0, 0, time.UTC).UnixMilli())}}); len(slots) != 3 {
		t.Errorf("startMS/endMS: %+v", slots)
	}
	if _, slots, _ := availability(t, n, "Callback_London", url.Values{"start": {"2027-06-01T00:00:00Z"}, "end": {"2027-06-01T02:00:00Z"}, "numberOfDays": {"3"}}); len(slots) != 2 {
		t.Errorf("end wins over numberOfDays: %+v", slots)
	}
	for _, q := range []url.Values{
		{"start": {"2018-06-10T25:05:00.000Z"}},
		{"start": {"2027-06-02T00:00:00Z"}, "end": {"2027-06-01T00:00:00Z"}},
		{"numberOfDays": {"x"}},
		{"timezone": {"Mars/Base"}},
		{"reportBusy": {"maybe"}},
	} {
		if code, _, _ := availability(t, n, "Callback_London", q); code != 400 {
			t.Errorf("%v: %d", q, code)
		}
	}
	if code, _, resp := availability(t, n, "Nope", url.Values{}); code != 400 || !strings.Contains(fmt.Sprint(resp), "Unknown service: Nope") {
		t.Errorf("unknown service: %d %v", code, resp)
	}
	// The GMS availability on the internal port.
	code, b := n.Internal(t, "GET", "/genesys/1/service/callback/Callback_NY/availability?start=2027-03-15T00:00:00.000Z&number-of-days=1&max-time-slots=2", demoCCID(s), nil)
	if code != 200 || strings.Count(string(b), `":5`) != 2 || !strings.Contains(string(b), `"2027-03-15T13:00:00.000Z":5`) {
		t.Errorf("GMS availability: %d %s", code, b)
	}
}

func TestSlotCapacityUnderConcurrency(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Nodes: 2, NoPublish: true})
	a, b := s.Nodes[0], s.Nodes[1]
	publishTable(t, s, a, row{"key": "Callback_Cap", "columns": row{"Time Zone": "UTC", "Business Hours": "Daily 24h",
		"Slot Duration (min)": "15", "Capacity": "10", "Capacity Overrides": "Daily 10:30-10:45=1", "Max Callbacks Per Phone Number": "0"}})
	tomorrow := time.Now().UTC().Add(24 * time.Hour)
	slot := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 10, 0, 0, 0, time.UTC)
	desired := wireTime(slot.Add(5 * time.Minute))
	eventually(t, 2*time.Second, "node B has the table", func() bool {
		code, _, _ := availability(t, b, "Callback_Cap", url.Values{})
		return code == 200
	})

	var mu sync.Mutex
	var ok []string
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := []*testenv.Node{a, b}[i%2]
			r, err := node.ExternalDo("POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{
				"serviceName": "Callback_Cap", "phoneNumber": fmt.Sprintf("+1777%07d", i), "desiredTime": desired})
			if err != nil {
				t.Error(err)
				return
			}
			m, _ := r.JSON()
			mu.Lock()
			defer mu.Unlock()
			codes[r.Status]++
			switch r.Status {
			case 200:
				ok = append(ok, m["data"].(map[string]any)["id"].(string))
			case 429:
				slots, _ := m["data"].(map[string]any)["slots"].(map[string]any)
				if len(slots) == 0 {
					t.Errorf("429 without proposals: %v", m)
				}
				for k, v := range slots {
					if k == wireTime(slot) || v == "0" {
						t.Errorf("proposal of the full slot or of a busy one: %s=%v", k, v)
					}
				}
			}
		}()
	}
	wg.Wait()
	if codes[200] != 10 || codes[429] != 40 {
		t.Fatalf("status counts %v, want 10 x 200 and 40 x 429", codes)
	}
	at := func(start time.Time) slotResp {
		_, slots, _ := availability(t, b, "Callback_Cap", url.Values{"start": {wireTime(start)}, "end": {wireTime(start.Add(time.Minute))}, "reportBusy": {"true"}})
		if len(slots) != 1 {
			t.Fatalf("availability at %s: %+v", start, slots)
		}
		return slots[0]
	}
	if got := at(slot); got.Capacity != 0 || got.Tot != 10 {
		t.Fatalf("full slot: %+v", got)
	}
	if _, slots, _ := availability(t, b, "Callback_Cap", url.Values{"start": {wireTime(slot)}, "end": {wireTime(slot.Add(time.Minute))}}); len(slots) != 0 {
		t.Fatalf("a busy slot was listed without reportBusy: %+v", slots)
	}
	// Cancelling gives the place back.
	if code, _ := a.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]string{"id": ok[0]}); code != 200 {
		t.Fatal("cancel failed")
	}
	if got := at(slot); got.Capacity != 1 {
		t.Fatalf("after cancel: %+v", got)
	}
	// Rescheduling moves the place.
	gms := func(id string, when time.Time) (int, string) {
		code, body := b.Internal(t, "PUT", "/genesys/1/service/callback/Callback_Cap/"+id, demoCCID(s), map[string]string{"_new_desired_time": wireTime(when)})
		return code, string(body)
	}
	if code, body := gms(ok[1], slot.Add(15*time.Minute)); code != 200 {
		t.Fatalf("reschedule: %d %s", code, body)
	}
	if got, next := at(slot), at(slot.Add(15*time.Minute)); got.Capacity != 2 || next.Capacity != 9 {
		t.Fatalf("after reschedule: %+v %+v", got, next)
	}
	// A full slot refuses the move and says what is free.
	if code, body := gms(ok[2], slot.Add(30*time.Minute)); code != 200 {
		t.Fatalf("reschedule into the 1-place slot: %d %s", code, body)
	}
	code, body := gms(ok[3], slot.Add(30*time.Minute))
	if code != 400 || !strings.Contains(body, `"availability"`) || !strings.Contains(body, wireTime(slot)) {
		t.Fatalf("reschedule into a full slot: %d %s", code, body)
	}
	if got := at(slot); got.Capacity != 3 {
		t.Fatalf("refused move changed the old slot: %+v", got)
	}
	// alwaysCheckCapacity refuses a full slot with proposals.
	code, resp := a.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{
		"serviceName": "Callback_Cap", "phoneNumber": "+17779999999", "desiredTime": wireTime(slot.Add(31 * time.Minute)), "alwaysCheckCapacity": true})
	if code != 429 || resp["data"] == nil {
		t.Fatalf("alwaysCheckCapacity: %d %v", code, resp)
	}
}

func TestCreateHonoursHoursHorizonAndSwitches(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{NoPublish: true})
	n := s.Nodes[0]
	today := time.Now().UTC().Format("2006-01-02")
	publishTable(t, s, n,
		row{"key": "Office", "columns": row{"Time Zone": "UTC", "Business Hours": "Mon-Fri 09:00-17:00", "Scheduling Horizon (days)": "30"}},
		row{"key": "ClosedToday", "columns": row{"Time Zone": "UTC", "Special Days": today + " closed"}},
		row{"key": "NoImmediate", "columns": row{"Offer Immediate Callback": "false"}},
		row{"key": "NoScheduled", "columns": row{"Offer Scheduled Callback": "false"}},
	)
	nextSat := time.Now().UTC()
	for nextSat.Weekday() != time.Saturday {
		nextSat = nextSat.Add(24 * time.Hour)
	}
	nextSat = time.Date(nextSat.Year(), nextSat.Month(), nextSat.Day(), 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"serviceName": "Office", "desiredTime": wireTime(nextSat)}, "outside the business hours"},
		{map[string]any{"serviceName": "Office", "desiredTime": wireTime(time.Now().Add(40 * 24 * time.Hour))}, "beyond the scheduling horizon"},
		{map[string]any{"serviceName": "ClosedToday"}, "closed now"},
		{map[string]any{"serviceName": "NoImmediate"}, "Immediate callbacks are not offered"},
		{map[string]any{"serviceName": "NoScheduled", "desiredTime": wireTime(time.Now().Add(time.Hour))}, "Scheduled callbacks are not offered"},
	} {
		c.body["phoneNumber"] = "+15551234"
		code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, c.body)
		if code != 400 || !strings.Contains(fmt.Sprint(resp["status"]), c.want) {
			t.Errorf("%v: %d %v", c.body, code, resp)
		}
	}
	code, resp := n.External(t, "GET", "/engagement/v3/callbacks/queue-status/NoImmediate", demoKey, nil)
	d, _ := resp["data"].(map[string]any)
	if code != 200 || d["offerImmediateCallback"] != false || d["offerScheduledCallback"] != true || d["ewt"] == nil {
		t.Errorf("queue-status: %d %v", code, resp)
	}
	if _, resp := n.External(t, "GET", "/engagement/v3/callbacks/queue-status/ClosedToday", demoKey, nil); resp["data"].(map[string]any)["offerImmediateCallback"] != false {
		t.Errorf("queue-status of a closed service: %v", resp)
	}
}

func TestServiceRateWindow(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{NoPublish: true})
	n := s.Nodes[0]
	publishTable(t, s, n, row{"key": "Limited", "columns": row{"Throttle Callbacks Per Service 1": "3", "Throttle TTL 1 (seconds)": "3600"}})
	for i := range 3 {
		create(t, n, demoKey, map[string]any{"serviceName": "Limited", "phoneNumber": fmt.Sprintf("+1888%d", i)})
	}
	r, err := n.ExternalDo("POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{"serviceName": "Limited", "phoneNumber": "+18889"})
	if err != nil || r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth create: %v %+v", err, r)
	}
	if m, _ := r.JSON(); m["data"] != nil {
		t.Fatalf("a throttle answer with data: %v", m)
	}
	code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Limited", demoCCID(s), map[string]string{"_customer_number": "+18880"})
	if code != 503 || !strings.Contains(string(b), "is reached for interval 3600s") {
		t.Fatalf("GMS throttle: %d %s", code, b)
	}
	if !strings.Contains(metricsText(t, n), "CB_TTL_LIMIT_REACHED{") {
		t.Fatal("CB_TTL_LIMIT_REACHED did not move")
	}
}
