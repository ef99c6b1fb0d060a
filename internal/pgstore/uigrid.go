package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// GridFilter selects the callbacks of the UI's grid and export. Empty
// fields do not narrow, except Services: none selects nothing.
type GridFilter struct {
	Services []string
	State    string
	// From and To bound the desired time: From <= t < To.
	From, To *time.Time
	// Phone is a part of the number.
	Phone string
}

// UIGrid finds callbacks for the UI's grid and export, which filter on
// columns the callback API never searches by.
type UIGrid struct{ pool *pgxpool.Pool }

// NewUIGrid returns the grid's search on pool.
func NewUIGrid(pool *pgxpool.Pool) *UIGrid { return &UIGrid{pool: pool} }

// Find returns the ids of a page of a tenant's matching callbacks, newest
// desired time first, and how many match in all.
func (g *UIGrid) Find(ctx context.Context, tenant string, f GridFilter, offset, limit int) ([]string, int, error) {
	if len(f.Services) == 0 {
		return nil, 0, nil
	}
	where := `ccid=$1 AND service = ANY($2) AND ($3='' OR state=$3) AND ($4::timestamptz IS NULL OR desired_time >= $4)
		AND ($5::timestamptz IS NULL OR desired_time < $5) AND ($6='' OR strpos(phone, $6) > 0)`
	args := []any{tenant, f.Services, f.State, f.From, f.To, f.Phone}
	var total int
	if err := g.pool.QueryRow(ctx, `SELECT count(*) FROM callbacks WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := g.pool.Query(ctx, `SELECT id::text FROM callbacks WHERE `+where+` ORDER BY desired_time DESC, id LIMIT $7 OFFSET $8`,
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, 0, err
		}
		ids = append(ids, id)
	}
	return ids, total, rows.Err()
}
