package ui

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gesgo/ges/internal/httpapi"
)

// ErrorRetention is how long external API errors stay searchable.
const ErrorRetention = 14 * 24 * time.Hour

// APIError is one failed external API request, as the API reports it.
type APIError = httpapi.APIError

// ErrorLog keeps the external API's errors in Postgres for the Developer
// tab. Record never blocks the API: errors beyond a full queue are dropped
// (and counted in the log).
type ErrorLog struct {
	pool    *pgxpool.Pool
	queue   chan APIError
	dropped atomic.Int64
}

// Record queues one error.
func (l *ErrorLog) Record(e APIError) {
	if l == nil {
		return
	}
	select {
	case l.queue <- e:
	default:
		l.dropped.Add(1)
	}
}

func (l *ErrorLog) run(ctx context.Context) error {
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	l.prune(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-prune.C:
			l.prune(ctx)
			if n := l.dropped.Swap(0); n > 0 {
				slog.Warn("API errors not kept for the Developer tab: the queue was full", "dropped", n)
			}
		case e := <-l.queue:
			batch := []APIError{e}
		more:
			for len(batch) < 256 {
				select {
				case e := <-l.queue:
					batch = append(batch, e)
				default:
					break more
				}
			}
			l.write(ctx, batch)
		}
	}
}

func (l *ErrorLog) write(ctx context.Context, batch []APIError) {
	var ccid, corr, method, path, msg []string
	var status []int32
	var at []time.Time
	for _, e := range batch {
		ccid, corr, method, path, msg = append(ccid, e.Tenant), append(corr, e.CorrID), append(method, e.Method), append(path, e.Path), append(msg, e.Message)
		status, at = append(status, int32(e.Status)), append(at, e.At)
	}
	_, err := l.pool.Exec(ctx, `INSERT INTO ui_api_errors (ccid, corr_id, method, path, message, status, at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::timestamptz[])`,
		ccid, corr, method, path, msg, status, at)
	if err != nil {
		slog.Warn("could not keep API errors for the Developer tab", "count", len(batch), "err", err)
	}
}

func (l *ErrorLog) prune(ctx context.Context) {
	if _, err := l.pool.Exec(ctx, `DELETE FROM ui_api_errors WHERE at < $1`, time.Now().Add(-ErrorRetention)); err != nil {
		slog.Warn("could not prune the API error log", "err", err)
	}
}

// Search lists a tenant's errors, newest first; corrID narrows to the ids
// starting with it.
func (l *ErrorLog) Search(ctx context.Context, tenant, corrID string, limit int) ([]APIError, error) {
	rows, err := l.pool.Query(ctx, `SELECT ccid, corr_id, method, path, status, message, at FROM ui_api_errors
		WHERE ccid=$1 AND ($2='' OR corr_id LIKE $3) AND at >= $4 ORDER BY at DESC LIMIT $5`,
		tenant, corrID, escapeLike(corrID)+"%", time.Now().Add(-ErrorRetention), limit)
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

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}
