package pgstore

import (
	"context"
	"time"

	"github.com/gesgo/ges/internal/callback"
)

// Changed lists the callbacks, final ones included, of which a revision
// dated in [since, until) was stored, in id order after the given id ("" =
// from the start), at most limit. The reconciler compares them with Redis
// between its sweeps. It reads the history's time index, so a quiet store
// answers from one index probe.
func (s *Store) Changed(ctx context.Context, since, until time.Time, after string, limit int) ([]*callback.Callback, error) {
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	return s.records(ctx, limit, `SELECT `+selectCols+` FROM callbacks
		WHERE id IN (SELECT callback_id FROM callback_events WHERE at >= $1 AND at < $2) AND id > $3
		ORDER BY id LIMIT $4`, since, until, after, limit)
}
