package pgstore

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestChanged: the reconciler reads the callbacks a revision stored since
// a time changed, completed ones included, page by page in id order.
func TestChanged(t *testing.T) {
	s := newStore(t)
	run(t, s, 2)
	ctx := context.Background()
	_, all := seed(t, s)
	walk := func(since time.Time) []string {
		until := base.Add(24 * time.Hour)
		var out []string
		after := ""
		for {
			page, err := s.Changed(ctx, since, until, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, cb := range page {
				out = append(out, cb.ID)
			}
			if len(page) < 2 {
				return out
			}
			after = page[len(page)-1].ID
		}
	}
	since := base.Add(4 * time.Minute)
	var want []string
	final := false
	for _, cb := range all {
		if !cb.Updated.Before(since) {
			want = append(want, cb.ID)
			final = final || cb.State.Final()
		}
	}
	slices.Sort(want)
	if got := walk(since); !slices.Equal(got, want) || !final || len(want) == len(all) {
		t.Fatalf("changed since\n got %v\nwant %v (a completed one among them: %v)", got, want, final)
	}
	if got := walk(base.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("changed in the future: %v", got)
	}
	// A new revision of an old record brings it in; its old revisions do
	// not count twice.
	old := all[0]
	n := next(old, nil)
	n.Updated = base.Add(time.Hour)
	if err := s.Save(ctx, n, ev(n)); err != nil {
		t.Fatal(err)
	}
	got := walk(base.Add(time.Hour))
	if len(got) != 1 || got[0] != old.ID {
		t.Fatalf("after a change of %s: %v", old.ID, got)
	}
	if cbs, err := s.Changed(ctx, base.Add(time.Hour), base.Add(24*time.Hour), "", 10); err != nil || cbs[0].Rev != n.Rev {
		t.Fatalf("the changed record: %+v %v", cbs, err)
	}
	// until is excluded.
	if cbs, err := s.Changed(ctx, base.Add(4*time.Minute), base.Add(5*time.Minute), "", 10); err != nil || len(cbs) != 1 || !cbs[0].Updated.Equal(base.Add(4*time.Minute)) {
		t.Fatalf("changed in [4m, 5m): %+v %v", cbs, err)
	}
}
