package ors

import (
	"strings"
	"sync"
	"time"
)

// Outcomes of a consumed entry, as the admin API shows them.
const (
	OutcomeRunning    = "running"
	OutcomeTerminated = "terminated"
)

// Record is what the admin API shows for one consumed stream entry.
type Record struct {
	StreamID    string `json:"streamId"`
	CCID        string `json:"ccid"`
	CallbackID  string `json:"callbackId"`
	Attempt     string `json:"attempt"`
	SessionID   string `json:"sessionId"`
	ServiceName string `json:"serviceName"`
	Outcome     string `json:"outcome"`
	// StartedAt and EndedAt bound the session's life; EndedAt stays zero
	// while it runs.
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	// Concurrent is how many other sessions of the same callback were live
	// when this one started: anything but 0 means the customer could be
	// called twice at once.
	Concurrent int `json:"concurrent,omitempty"`
}

// Stats counts records by outcome.
type Stats struct {
	Consumed   int `json:"consumed"`
	Running    int `json:"running"`
	Completed  int `json:"completed"`
	Aborted    int `json:"aborted"`
	Terminated int `json:"terminated"`
	// DoubleSessions counts sessions that started while another session of
	// the same callback was live.
	DoubleSessions int `json:"doubleSessions"`
}

// Ledger keeps every consumed entry in consumption order so tests and demos
// can see what the simulated ORS did without reading its logs.
type Ledger struct {
	mu      sync.Mutex
	records []Record
	stats   Stats
	live    map[string]int // running sessions per tenant and callback
}

func liveKey(r Record) string { return r.CCID + "/" + r.CallbackID }

// Add appends a record and returns its index.
func (l *Ledger) Add(r Record) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.StartedAt.IsZero() {
		r.StartedAt = time.Now().UTC()
	}
	if r.Outcome == OutcomeRunning {
		if l.live == nil {
			l.live = map[string]int{}
		}
		r.Concurrent = l.live[liveKey(r)]
		if r.Concurrent > 0 {
			l.stats.DoubleSessions++
		}
		l.live[liveKey(r)]++
	} else {
		r.EndedAt = r.StartedAt
	}
	l.records = append(l.records, r)
	l.stats.Consumed++
	l.count(r.Outcome, 1)
	return len(l.records) - 1
}

// Finish sets the final outcome of record i.
func (l *Ledger) Finish(i int, outcome string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &l.records[i]
	if r.Outcome == OutcomeRunning {
		k := liveKey(*r)
		if l.live[k]--; l.live[k] <= 0 {
			delete(l.live, k)
		}
	}
	l.count(r.Outcome, -1)
	r.Outcome = outcome
	r.EndedAt = time.Now().UTC()
	l.count(outcome, 1)
}

func (l *Ledger) count(outcome string, d int) {
	kind, _, _ := strings.Cut(outcome, ":")
	switch kind {
	case OutcomeRunning:
		l.stats.Running += d
	case "completed":
		l.stats.Completed += d
	case "aborted":
		l.stats.Aborted += d
	case OutcomeTerminated:
		l.stats.Terminated += d
	}
}

// Records returns a copy of the records from index from on.
func (l *Ledger) Records(from int) []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	from = min(max(from, 0), len(l.records))
	return append([]Record{}, l.records[from:]...)
}

// Stats returns the current counters.
func (l *Ledger) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}
