package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// streamEntry is one hand-off GES wrote to NewCallbackStream.
type streamEntry struct {
	streamID   string
	callbackID string
	attempt    string
	phone      string
}

// session is one ORS session gessim played, from its ledger.
type session struct {
	CallbackID string    `json:"callbackId"`
	Attempt    string    `json:"attempt"`
	Outcome    string    `json:"outcome"`
	StartedAt  time.Time `json:"startedAt"`
	Concurrent int       `json:"concurrent"`
}

// sample is the backlog at one moment: acknowledged callbacks overdue
// for an ORS session.
type sample struct {
	at      time.Time
	backlog int
}

// observer follows the stream and the ORS ledger for the whole run. It keeps
// every entry it has seen, so an outage or a trimmed stream cannot hide one.
type observer struct {
	voice    *redis.Client
	adminURL string
	load     *load
	grace    time.Duration

	mu       sync.Mutex
	lastID   string
	entries  []streamEntry
	sessions []session
	samples  []sample

	stop chan struct{}
	done chan struct{}
}

// overdueGrace is how late past its due time a callback may get its ORS
// session before it counts as backlog.
const overdueGrace = 5 * time.Second

func newObserver(s *testenv.Stack, l *load) *observer {
	return &observer{
		voice:    redis.NewClient(&redis.Options{Addr: s.Voice.Addr, MaxRetries: -1, DialTimeout: time.Second}),
		adminURL: s.Sim.AdminURL, load: l, grace: overdueGrace, lastID: "-",
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

func (o *observer) start() {
	go func() {
		defer close(o.done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			o.poll()
			select {
			case <-o.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// finish stops sampling after one last read of everything.
func (o *observer) finish() {
	close(o.stop)
	<-o.done
	o.poll()
	_ = o.readLedger(true)
	_ = o.voice.Close()
}

func (o *observer) poll() {
	_ = o.readStream()
	_ = o.readLedger(false)
	o.sampleBacklog(time.Now())
}

// readStream appends the entries after the last one read. Failures (the
// Voice Redis being down) are retried at the next poll.
func (o *observer) readStream() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		o.mu.Lock()
		from := o.lastID
		o.mu.Unlock()
		if from != "-" {
			from = "(" + from
		}
		msgs, err := o.voice.XRangeN(ctx, "NewCallbackStream", from, "+", 5000).Result()
		if err != nil {
			return err
		}
		o.mu.Lock()
		for _, m := range msgs {
			o.entries = append(o.entries, parseEntry(m))
			o.lastID = m.ID
		}
		o.mu.Unlock()
		if len(msgs) < 5000 {
			return nil
		}
	}
}

func parseEntry(m redis.XMessage) streamEntry {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	e := streamEntry{streamID: m.ID, callbackID: str("callbackId"), attempt: str("attempt")}
	var p struct {
		CallbackID string            `json:"callbackId"`
		Params     map[string]string `json:"params"`
	}
	if json.Unmarshal([]byte(str("payload")), &p) == nil {
		e.phone = p.Params["_customer_number"]
		if e.callbackID == "" {
			e.callbackID = p.CallbackID
		}
	}
	return e
}

// readLedger appends the ORS sessions gessim started since the last read;
// all re-reads the whole ledger, for the final outcomes of sessions that
// were still running.
func (o *observer) readLedger(all bool) error {
	o.mu.Lock()
	from := len(o.sessions)
	o.mu.Unlock()
	if all {
		from = 0
	}
	r, err := testenv.Do("GET", o.adminURL+"/sim/ors/entries?from="+strconv.Itoa(from), nil, nil)
	if err != nil {
		return err
	}
	if r.Status != 200 {
		return fmt.Errorf("ledger: %d", r.Status)
	}
	var recs []session
	if err := json.Unmarshal(r.Body, &recs); err != nil {
		return err
	}
	o.mu.Lock()
	o.sessions = append(o.sessions[:from], recs...)
	o.mu.Unlock()
	return nil
}

// sampleBacklog counts acknowledged callbacks due more than the grace ago
// that ORS has not started a session for.
func (o *observer) sampleBacklog(now time.Time) {
	reqs := o.load.snapshot()
	o.mu.Lock()
	defer o.mu.Unlock()
	played := make(map[string]bool, len(o.sessions))
	for _, s := range o.sessions {
		played[s.CallbackID] = true
	}
	n := 0
	for _, r := range reqs {
		if r.result == acked && now.After(r.due.Add(o.grace)) && !played[r.id] {
			n++
		}
	}
	o.samples = append(o.samples, sample{at: now, backlog: n})
}

// recovery is how long after end the last backlog cleared: 0 if there was
// none after the fault began, negative if it never cleared.
func (o *observer) recovery(begin, end time.Time) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	var lastBusy time.Time
	for _, s := range o.samples {
		if s.at.After(begin) && s.backlog > 0 {
			lastBusy = s.at
		}
	}
	switch {
	case lastBusy.IsZero():
		return 0
	case len(o.samples) > 0 && o.samples[len(o.samples)-1].backlog > 0:
		return -1
	}
	return max(lastBusy.Sub(end), 0)
}

// backlog is the last sampled backlog.
func (o *observer) backlog() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.samples) == 0 {
		return 0
	}
	return o.samples[len(o.samples)-1].backlog
}

// seen returns copies of the entries and sessions collected.
func (o *observer) seen() ([]streamEntry, []session) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]streamEntry(nil), o.entries...), append([]session(nil), o.sessions...)
}

// doubleSessions reads gessim's count of sessions started while another
// session of the same callback was live.
func doubleSessions(adminURL string) (int, error) {
	r, err := testenv.Do("GET", adminURL+"/sim/ors/stats", nil, nil)
	if err != nil {
		return 0, err
	}
	var st struct {
		DoubleSessions int `json:"doubleSessions"`
	}
	if err := json.Unmarshal(r.Body, &st); err != nil {
		return 0, fmt.Errorf("stats %d: %w", r.Status, err)
	}
	return st.DoubleSessions, nil
}

func attemptKey(e streamEntry) string { return e.callbackID + "#" + e.attempt }
