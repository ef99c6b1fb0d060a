package pgstore

import (
	"context"

	"github.com/gesgo/ges/internal/callback"
)

// PushCandidates pages through a tenant's QUEUED and ROUTING callbacks of
// the given services that carry push targets, ids after `after` (empty =
// from the start), in id order.
func (s *Store) PushCandidates(ctx context.Context, tenant string, services []string, after string, limit int) ([]*callback.Callback, error) {
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.pool.Query(ctx, `SELECT `+selectCols+` FROM callbacks
		WHERE ccid=$1 AND live AND state = ANY($2) AND service = ANY($3)
		AND header->'k' ? '_push_targets' AND id > $4::uuid ORDER BY id LIMIT $5`,
		tenant, []string{string(callback.Queued), string(callback.Routing)}, services, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*callback.Callback
	for rows.Next() {
		cb, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, cb)
	}
	return out, rows.Err()
}
