package simtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Report is one PUT the fake GES received.
type Report struct {
	Path            string
	ContactCenterID string
	ContentType     string
	Body            map[string]string
	At              time.Time // when it was received
}

// Table is one Designer table publish the fake GES received.
type Table struct {
	Path            string
	ContactCenterID string
	Body            map[string]any
}

// FakeGES stands in for GES' internal API: it records every callback
// report and answers with a status the test chooses.
type FakeGES struct {
	*httptest.Server

	mu      sync.Mutex
	reports []Report
	tables  []Table
	answer  func(Report) int
	notify  chan struct{}
}

// NewFakeGES starts a fake GES answering 200 to everything.
func NewFakeGES(t testing.TB) *FakeGES {
	f := &FakeGES{answer: func(Report) int { return http.StatusOK }, notify: make(chan struct{}, 1)}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// Answer sets how the fake answers each report.
func (f *FakeGES) Answer(fn func(Report) int) {
	f.mu.Lock()
	f.answer = fn
	f.mu.Unlock()
}

func (f *FakeGES) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	if strings.HasPrefix(req.URL.Path, "/ges/v1/datatables/") {
		f.serveTable(w, req, raw)
		return
	}
	r := Report{At: time.Now(), Path: req.URL.Path, ContactCenterID: req.Header.Get("ContactCenterId"),
		ContentType: req.Header.Get("Content-Type")}
	if req.Method != http.MethodPut || json.Unmarshal(raw, &r.Body) != nil {
		http.Error(w, `{"exception":"BadRequest","message":"expected a JSON PUT"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.reports = append(f.reports, r)
	answer := f.answer
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
	status := answer(r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status/100 == 2 {
		_, _ = w.Write([]byte(`{}`))
	} else {
		_, _ = w.Write([]byte(`{"exception":"CallbackException","message":"refused by test"}`))
	}
}

func (f *FakeGES) serveTable(w http.ResponseWriter, req *http.Request, raw []byte) {
	tb := Table{Path: req.URL.Path, ContactCenterID: req.Header.Get("ContactCenterId")}
	if req.Method != http.MethodPut || json.Unmarshal(raw, &tb.Body) != nil {
		http.Error(w, `{"exception":"BadRequest","message":"expected a JSON PUT"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.tables = append(f.tables, tb)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"table":"accepted"}`))
}

// Tables returns the table publishes received so far.
func (f *FakeGES) Tables() []Table {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Table{}, f.tables...)
}

// Reports returns what was received so far.
func (f *FakeGES) Reports() []Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Report{}, f.reports...)
}

// WaitReports waits until at least n reports arrived.
func (f *FakeGES) WaitReports(t testing.TB, n int, within time.Duration) []Report {
	t.Helper()
	deadline := time.After(within)
	for {
		if rs := f.Reports(); len(rs) >= n {
			return rs
		}
		select {
		case <-f.notify:
		case <-deadline:
			t.Fatalf("fake GES got %d reports, want %d: %+v", len(f.Reports()), n, f.Reports())
		}
	}
}
