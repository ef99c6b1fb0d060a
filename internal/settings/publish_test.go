package settings

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// memTables is a TableStore in memory.
type memTables struct {
	mu     sync.Mutex
	tables map[string]*Stored
	at     time.Time
}

func (m *memTables) PublishTable(_ context.Context, tenant, name string, rows []Row, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := int64(1)
	if old := m.tables[tenant]; old != nil {
		v = old.Version + 1
	}
	m.tables[tenant], m.at = &Stored{Tenant: tenant, Name: name, Version: v, Rows: rows}, now
	return v, nil
}

func (m *memTables) Table(_ context.Context, tenant, _ string) (*Stored, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tables[tenant], nil
}

func (m *memTables) Tables(context.Context, string) ([]*Stored, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Stored
	for _, t := range m.tables {
		out = append(out, t)
	}
	return out, nil
}

// channel is an Announcer that delivers to one follower.
type channel struct {
	ch     chan string
	failed bool
}

func (c *channel) PublishSettings(_ context.Context, tenant string) error {
	if c.failed {
		return errors.New("unreachable")
	}
	c.ch <- tenant
	return nil
}

func (c *channel) SettingsChanges(context.Context) <-chan string { return c.ch }

func TestPublishValidatesStoresInstallsAndAnnounces(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	store := &memTables{tables: map[string]*Stored{}}
	ann := &channel{ch: make(chan string, 4)}
	reg := NewRegistry()
	p := NewPublisher(store, ann, reg, fixedClock(at))
	changed := 0
	p.Changed = func() { changed++ }

	if _, err := p.Publish(context.Background(), "t1", TableName, []Row{{Key: "A"}, {Key: "A"}}); err == nil {
		t.Fatal("a table with a duplicate key was accepted")
	}
	if len(store.tables) != 0 || reg.Table("t1") != nil || changed != 0 || len(ann.ch) != 0 {
		t.Fatal("a refused table was stored, installed or announced")
	}

	tb, err := p.Publish(context.Background(), "t1", TableName, []Row{{Key: "A"}})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Version != 1 || p.Table("t1") != tb || changed != 1 || !store.at.Equal(at) {
		t.Fatalf("version %d, installed %v, changed %d, stored at %v", tb.Version, p.Table("t1") == tb, changed, store.at)
	}
	if got := <-ann.ch; got != "t1" {
		t.Fatalf("announced %q", got)
	}

	// A failed announcement does not fail the publish: the other nodes
	// catch up on their refresh.
	ann.failed = true
	if tb, err := p.Publish(context.Background(), "t1", TableName, []Row{{Key: "B"}}); err != nil || tb.Version != 2 {
		t.Fatalf("%v %v", tb, err)
	}
}

func TestRunFollowsOtherNodesAndRefreshes(t *testing.T) {
	store := &memTables{tables: map[string]*Stored{}}
	ann := &channel{ch: make(chan string, 4)}
	// Another node publishes into the same store.
	other := NewPublisher(store, &channel{ch: make(chan string, 4)}, NewRegistry(), nil)
	reg := NewRegistry()
	p := NewPublisher(store, ann, reg, nil)
	p.Refresh = 10 * time.Millisecond
	var mu sync.Mutex
	changed := 0
	p.Changed = func() { mu.Lock(); changed++; mu.Unlock() }
	p.Signals.Pass.Init()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	if _, err := other.Publish(ctx, "t1", TableName, []Row{{Key: "A"}}); err != nil {
		t.Fatal(err)
	}
	ann.ch <- "t1"
	for {
		tenant, err := p.Signals.Pass.Wait(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if tenant == "t1" {
			break
		}
	}
	if _, ok := reg.Service("t1", "A"); !ok || reg.Version("t1") != 1 {
		t.Fatal("the announced table was not installed")
	}

	// An announcement that never came: the refresh installs the table.
	if _, err := other.Publish(ctx, "t2", TableName, []Row{{Key: "B"}}); err != nil {
		t.Fatal(err)
	}
	for reg.Table("t2") == nil {
		if _, err := p.Signals.Pass.Wait(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	if changed != 2 {
		t.Errorf("Changed told %d times for two new tables", changed)
	}
	mu.Unlock()

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRefetchTellsChangedEvenWithoutChange(t *testing.T) {
	store := &memTables{tables: map[string]*Stored{}}
	p := NewPublisher(store, &channel{ch: make(chan string, 4)}, NewRegistry(), nil)
	changed := 0
	p.Changed = func() { changed++ }
	if _, err := p.Publish(context.Background(), "t1", TableName, []Row{{Key: "A"}}); err != nil {
		t.Fatal(err)
	}
	changed = 0
	if err := p.Refetch(context.Background(), "t1"); err != nil {
		t.Fatal(err)
	}
	if changed != 1 {
		t.Fatalf("Changed told %d times", changed)
	}
}
