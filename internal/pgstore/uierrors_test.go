package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gesgo/ges/internal/testenv"
)

// uiPool is a pool on a fresh, migrated database.
func uiPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pg := testenv.SharedPostgres(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pg.ConnString(pg.NewDatabase(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

// The Developer tab's error log: a batch in, a tenant's errors out newest
// first, the correlation id taken as a literal prefix, old ones pruned.
func TestUIErrors(t *testing.T) {
	ctx := context.Background()
	s := NewUIErrors(uiPool(t))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	batch := []APIError{
		{CorrID: "a_1", Tenant: "t1", Method: "POST", Path: "/engagement/v3/callbacks/create", Status: 400, Message: "bad phone", At: now.Add(-time.Minute)},
		{CorrID: "ab1", Tenant: "t1", Method: "GET", Path: "/engagement/v3/callbacks/x", Status: 404, Message: "not found", At: now},
		{CorrID: "a_2", Tenant: "t2", Method: "GET", Path: "/p", Status: 401, Message: "no key", At: now},
		{CorrID: "old", Tenant: "t1", Method: "GET", Path: "/p", Status: 500, Message: "old", At: now.Add(-30 * 24 * time.Hour)},
	}
	if err := s.Add(ctx, batch); err != nil {
		t.Fatal(err)
	}
	since := now.Add(-14 * 24 * time.Hour)
	got, err := s.Search(ctx, "t1", "", since, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].CorrID != "ab1" || got[1].CorrID != "a_1" {
		t.Fatalf("t1 errors: %+v", got)
	}
	if g := got[1]; g.Method != "POST" || g.Path != batch[0].Path || g.Status != 400 || g.Message != "bad phone" || !g.At.Equal(batch[0].At) {
		t.Fatalf("stored as %+v, want %+v", g, batch[0])
	}
	// "_" is a LIKE wildcard; the search takes it literally.
	if got, err := s.Search(ctx, "t1", "a_", since, 10); err != nil || len(got) != 1 || got[0].CorrID != "a_1" {
		t.Fatalf("prefix a_: %+v %v", got, err)
	}
	if got, _ := s.Search(ctx, "t1", "", since, 1); len(got) != 1 {
		t.Fatalf("limit 1: %d rows", len(got))
	}

	if err := s.Prune(ctx, since); err != nil {
		t.Fatal(err)
	}
	got, err = s.Search(ctx, "t1", "", time.Time{}, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("after prune: %+v %v", got, err)
	}
}
