package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gesgo/ges/internal/settings"
)

// PublishTable replaces a tenant's table in one statement and returns the
// new version (strictly increasing per tenant and table).
func (s *Store) PublishTable(ctx context.Context, tenant, name string, rows []settings.Row, now time.Time) (int64, error) {
	body, err := json.Marshal(rows)
	if err != nil {
		return 0, err
	}
	var version int64
	err = s.pool.QueryRow(ctx, `INSERT INTO datatables (ccid, name, version, rows, published_at)
		VALUES ($1, $2, 1, $3, $4)
		ON CONFLICT (ccid, name) DO UPDATE SET version = datatables.version + 1, rows = EXCLUDED.rows, published_at = EXCLUDED.published_at
		RETURNING version`, tenant, name, body, now).Scan(&version)
	return version, err
}

// StoredTable is a table as stored; it is the settings package's type so
// that Store serves settings.Publisher as it is.
type StoredTable = settings.Stored

// Table reads one tenant's table (nil when never published).
func (s *Store) Table(ctx context.Context, tenant, name string) (*StoredTable, error) {
	t := &StoredTable{Tenant: tenant, Name: name}
	var body []byte
	err := s.pool.QueryRow(ctx, `SELECT version, rows FROM datatables WHERE ccid=$1 AND name=$2`, tenant, name).Scan(&t.Version, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return t, decodeRows(body, &t.Rows)
}

// Tables reads every tenant's table of that name.
func (s *Store) Tables(ctx context.Context, name string) ([]*StoredTable, error) {
	rows, err := s.pool.Query(ctx, `SELECT ccid, version, rows FROM datatables WHERE name=$1`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*StoredTable
	for rows.Next() {
		t := &StoredTable{Name: name}
		var body []byte
		if err := rows.Scan(&t.Tenant, &t.Version, &body); err != nil {
			return nil, err
		}
		if err := decodeRows(body, &t.Rows); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func decodeRows(body []byte, rows *[]settings.Row) error {
	d := json.NewDecoder(bytesReader(body))
	d.UseNumber()
	return d.Decode(rows)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
