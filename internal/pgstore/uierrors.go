package pgstore

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// APIError is one failed external API request as the Developer tab keeps
// it (table ui_api_errors).
type APIError struct {
	CorrID  string
	Tenant  string
	Method  string
	Path    string
	Status  int
	Message string
	At      time.Time
}

// UIErrors keeps the external API's errors for the UI's Developer tab. It
// needs nothing of Store: the log is written and pruned apart from the
// callback writes.
type UIErrors struct{ pool *pgxpool.Pool }

// NewUIErrors returns the API error log on pool.
func NewUIErrors(pool *pgxpool.Pool) *UIErrors { return &UIErrors{pool: pool} }

// Add stores a batch of errors in one round trip.
func (s *UIErrors) Add(ctx context.Context, batch []APIError) error {
	var ccid, corr, method, path, msg []string
	var status []int32
	var at []time.Time
	for _, e := range batch {
		ccid, corr, method, path, msg = append(ccid, e.Tenant), append(corr, e.CorrID), append(method, e.Method), append(path, e.Path), append(msg, e.Message)
		status, at = append(status, int32(e.Status)), append(at, e.At)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO ui_api_errors (ccid, corr_id, method, path, message, status, at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::timestamptz[])`,
		ccid, corr, method, path, msg, status, at)
	return err
}

// Prune deletes the errors older than before.
func (s *UIErrors) Prune(ctx context.Context, before time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM ui_api_errors WHERE at < $1`, before)
	return err
}

// Search lists a tenant's errors since a time, newest first; corrID narrows
// to the ids starting with it (taken literally, not as a LIKE pattern).
func (s *UIErrors) Search(ctx context.Context, tenant, corrID string, since time.Time, limit int) ([]APIError, error) {
	rows, err := s.pool.Query(ctx, `SELECT ccid, corr_id, method, path, status, message, at FROM ui_api_errors
		WHERE ccid=$1 AND ($2='' OR corr_id LIKE $3) AND at >= $4 ORDER BY at DESC LIMIT $5`,
		tenant, corrID, escapeLike(corrID)+"%", since, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIError
	for rows.Next() {
		var e APIError
		if err := rows.Scan(&e.Tenant, &e.CorrID, &e.Method, &e.Path, &e.Status, &e.Message, &e.At); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// escapeLike makes s match itself in a LIKE pattern (backslash is
// Postgres' default escape character).
func escapeLike(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
