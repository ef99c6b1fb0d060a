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
	// Sort is a column of GridOrder, with a leading "-" for descending;
	// empty or unknown: newest desired time first.
	Sort string
}

// GridOrder maps the grid's sortable columns to their SQL.
var GridOrder = map[string]string{
	"service": "service", "phone": "phone", "state": "state",
	"desired": "desired_time", "created": "created_at", "updated": "updated_at",
}

// orderBy is the ORDER BY of a sort, with the id as the tie-breaker so
// that pages do not overlap.
func orderBy(sort string) string {
	dir := " ASC"
	if len(sort) > 0 && sort[0] == '-' {
		dir, sort = " DESC", sort[1:]
	}
	col, ok := GridOrder[sort]
	if !ok {
		col, dir = "desired_time", " DESC"
	}
	return col + dir + ", id" + dir
}

// UIGrid finds callbacks for the UI's grid and export, which filter on
// columns the callback API never searches by.
type UIGrid struct{ pool *pgxpool.Pool }

// NewUIGrid returns the grid's search on pool.
func NewUIGrid(pool *pgxpool.Pool) *UIGrid { return &UIGrid{pool: pool} }

// Find returns the ids of a page of a tenant's matching callbacks in the
// filter's order, and how many match in all.
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
	rows, err := g.pool.Query(ctx, `SELECT id::text FROM callbacks WHERE `+where+` ORDER BY `+orderBy(f.Sort)+` LIMIT $7 OFFSET $8`,
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
