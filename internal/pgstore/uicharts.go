package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// StateHour is how many callbacks of the services entered a state in an
// hour.
type StateHour struct {
	Hour  time.Time
	State string
	Count int
}

// UICharts answers the grouped queries of the UI's charts.
type UICharts struct{ pool *pgxpool.Pool }

// NewUICharts returns the charts' queries on pool.
func NewUICharts(pool *pgxpool.Pool) *UICharts { return &UICharts{pool: pool} }

// StateHours counts, per hour since since and per state, the state
// changes of a tenant's callbacks of the services (the history of
// callback_events), oldest hour first; hours are UTC whatever the
// session's time zone.
func (c *UICharts) StateHours(ctx context.Context, tenant string, services []string, since time.Time) ([]StateHour, error) {
	if len(services) == 0 {
		return nil, nil
	}
	rows, err := c.pool.Query(ctx, `SELECT date_trunc('hour', e.at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS h, e.state, count(*)
		FROM callback_events e JOIN callbacks c ON c.id = e.callback_id
		WHERE e.ccid = $1 AND e.at >= $2 AND c.ccid = $1 AND c.service = ANY($3)
		GROUP BY h, e.state ORDER BY h, e.state`, tenant, since, services)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StateHour
	for rows.Next() {
		var s StateHour
		if err := rows.Scan(&s.Hour, &s.State, &s.Count); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
