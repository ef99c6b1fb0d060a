package bench

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// reportsCounted is how many callbacks the reports section walks through
// ORS' reports.
const reportsCounted = 200

// commandsPerReport counts the GES-Redis commands of each ORS report on its
// own: immediate callbacks are handed off with gessim's ORS not reading the
// stream, then the bench reports for each, as ORS does (PUT to the update
// URL of the stream entry), QUEUED, ROUTING, PROCESSING and COMPLETED, one
// state at a time, and divides each state's commands by the number of
// reports.
func commandsPerReport(t *testing.T, s *section) {
	st := newBenchStack(t, nil, true, func(fx *testenv.Fixture) { fx.ORS.Paused = true })
	ges, voice := redisClient(t, st.Redis.Addr), redisClient(t, st.Voice.Addr)
	pg := pgConn(t, st)
	c := newCreator(st.Nodes[0], 16)
	defer c.close()
	booked := succeeded(t, s, "immediate creates", c.closed(16, reportsCounted, time.Time{}, spec{}))
	ids := make([]string, len(booked))
	for i, b := range booked {
		ids[i] = b.id
	}
	// Handed off: every callback has a recorded attempt.
	awaitRows(t, s, pg, "handed off", `(header->>'a')::int >= 1`, ids)
	time.Sleep(2 * time.Second) // the hand-offs' last writes
	const idleSpan = 5 * time.Second
	idle := countCommands(t, s, ges, voice, func() { time.Sleep(idleSpan) })

	steps := []map[string]string{
		{"_callback_state": "QUEUED", "_position": "1", "_ewt": "1"},
		{"_callback_state": "ROUTING"},
		{"_callback_state": "PROCESSING"},
		{"_callback_state": "COMPLETED", "_callback_reason": "AGENT_CONNECTED"},
	}
	var total float64
	for _, body := range steps {
		state := body["_callback_state"]
		run := countCommands(t, s, ges, voice, func() { sendReports(t, s, st, ids, body) })
		// The idle rate over the same span is the noise subtracted.
		scale := run.over.Seconds() / idle.over.Seconds()
		net := map[string]float64{}
		var per float64
		for k, v := range run.ges {
			net[k] = (float64(v) - float64(idle.ges[k])*scale) / float64(len(ids))
			per += net[k]
		}
		total += per
		var target *goal
		if state != "COMPLETED" {
			target = atMost(2)
		}
		s.add("report."+state, "GES Redis commands per "+state+" report", per, "", target)
		for _, k := range byCount(net) {
			if net[k] >= 0.05 {
				s.add("report."+state+".cmd."+k, "  "+k, net[k], "", nil)
			}
		}
	}
	s.add("report.all", "GES Redis commands of the four reports of a life", total, "", nil)
	s.note("%d immediate callbacks handed off while gessim's ORS does not read the stream; the bench then sends each callback's reports as ORS does (PUT to the entry's _callback_update_url, ContactCenterId header, 16 at once), one state for all callbacks at a time, counted by INFO commandstats (script inner commands included), less the idle rate of the same stack over %s (times each state's span); a first call of a script a server does not know yet is an EVALSHA refused, then an EVAL", len(ids), idleSpan)
}

// sendReports PUTs body as the report of each callback, 16 at once, and fails
// the section on any answer but 200.
func sendReports(t *testing.T, s *section, st *testenv.Stack, ids []string, body map[string]string) {
	t.Helper()
	h := http.Header{"ContactCenterId": {testenv.DemoContactCenterID}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	work := make(chan string)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				r, err := testenv.Do(http.MethodPut, st.Nodes[0].InternalURL+"/genesys/1/service/callback/"+service+"/"+id, h, body)
				if err != nil || r.Status != http.StatusOK {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %v %v", id, r, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if len(failed) > 0 {
		s.fatalf(t, "%d of %d %s reports refused, e.g. %s", len(failed), len(ids), body["_callback_state"], failed[0])
	}
}
