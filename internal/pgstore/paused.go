package pgstore

import (
	"context"

	"github.com/gesgo/ges/internal/pause"
)

// Pause records that a tenant's service is paused (again: the first pause
// is kept).
func (s *Store) Pause(ctx context.Context, p pause.Paused) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO paused_services (ccid, service, paused_at, paused_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (ccid, service) DO NOTHING`, p.Tenant, p.Service, p.At, p.By)
	return err
}

// Resume forgets a service's pause; it reports whether it was paused.
func (s *Store) Resume(ctx context.Context, tenant, service string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM paused_services WHERE ccid=$1 AND service=$2`, tenant, service)
	return tag.RowsAffected() > 0, err
}

// PausedServices lists the paused services of a tenant ("" : of every
// tenant), by tenant and name.
func (s *Store) PausedServices(ctx context.Context, tenant string) ([]pause.Paused, error) {
	rows, err := s.pool.Query(ctx, `SELECT ccid, service, paused_at, paused_by FROM paused_services
		WHERE $1 = '' OR ccid = $1 ORDER BY ccid, service`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pause.Paused
	for rows.Next() {
		var p pause.Paused
		if err := rows.Scan(&p.Tenant, &p.Service, &p.At, &p.By); err != nil {
			return nil, err
		}
		p.At = p.At.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}
