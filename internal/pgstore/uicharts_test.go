package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The Queues page's state chart: state changes per hour and state, of the
// tenant's visible services only.
func TestUIChartsStateHours(t *testing.T) {
	ctx := context.Background()
	pool := uiPool(t)
	h := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	add := func(ccid, service string, events ...any) {
		t.Helper()
		id := uuid.New()
		if _, err := pool.Exec(ctx, `INSERT INTO callbacks (id, ccid, service, phone, state, desired_time, created_at, updated_at, retain_until, rev, header)
			VALUES ($1, $2, $3, '+1555', 'SCHEDULED', $4, $4, $4, $4, 1, '{}')`, id, ccid, service, h); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(events); i += 2 {
			if _, err := pool.Exec(ctx, `INSERT INTO callback_events (callback_id, rev, ccid, at, state) VALUES ($1, $2, $3, $4, $5)`,
				id, i+1, ccid, events[i].(time.Time), events[i+1].(string)); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("t1", "Sales", h.Add(5*time.Minute), "SCHEDULED", h.Add(65*time.Minute), "QUEUED", h.Add(70*time.Minute), "COMPLETED")
	add("t1", "Sales", h.Add(50*time.Minute), "SCHEDULED")
	add("t1", "Sales", h.Add(-2*time.Hour), "SCHEDULED") // before since
	add("t1", "Support", h.Add(5*time.Minute), "SCHEDULED")
	add("t2", "Sales", h.Add(5*time.Minute), "SCHEDULED")

	got, err := NewUICharts(pool).StateHours(ctx, "t1", []string{"Sales"}, h)
	if err != nil {
		t.Fatal(err)
	}
	want := []StateHour{{h, "SCHEDULED", 2}, {h.Add(time.Hour), "COMPLETED", 1}, {h.Add(time.Hour), "QUEUED", 1}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Hour.Equal(want[i].Hour) || got[i].State != want[i].State || got[i].Count != want[i].Count {
			t.Errorf("row %d: %v, want %v", i, got[i], want[i])
		}
	}
	if got, err := NewUICharts(pool).StateHours(ctx, "t1", nil, h); err != nil || got != nil {
		t.Errorf("no services: %v %v", got, err)
	}
}
