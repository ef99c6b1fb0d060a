package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gesgo/ges/internal/callin"
)

// Click-To-Call-In lives in Postgres only: the group row is the lock of
// every allocation in the group, so lending a number and making the
// reservation durable are one commit, on any number of nodes.

// reserveAttempts bounds the retries of an allocation that lost a race on
// the unique (number, code) index: possible only when a number moved
// between groups while the old group's reservation still lived.
const reserveAttempts = 3

func uniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// CallinStore adapts Store to callin.Store.
func (s *Store) CallinStore() callin.Store { return callinStore{s} }

type callinStore struct{ s *Store }

func (c callinStore) PutGroup(ctx context.Context, tenant string, g *callin.Group) error {
	tx, err := c.s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if _, err := tx.Exec(ctx, `INSERT INTO callin_groups (ccid, name, expiry_seconds, access_codes, code_length, allocation, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7)
		ON CONFLICT (ccid, name) DO UPDATE SET expiry_seconds=EXCLUDED.expiry_seconds, access_codes=EXCLUDED.access_codes,
		  code_length=EXCLUDED.code_length, allocation=EXCLUDED.allocation, updated_at=EXCLUDED.updated_at`,
		tenant, g.Name, int(g.Expiry/time.Second), g.AccessCodes, g.CodeLength, g.Allocation, g.UpdatedAt); err != nil {
		return err
	}
	if err := c.numberOwner(ctx, tx, tenant, g); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM callin_numbers WHERE ccid=$1 AND group_name=$2`, tenant, g.Name); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO callin_numbers (ccid, number, group_name, position)
		SELECT $1, n, $2, ord - 1 FROM unnest($3::text[]) WITH ORDINALITY AS t(n, ord)`, tenant, g.Name, g.Numbers)
	if uniqueViolation(err) {
		// Another group took one of the numbers concurrently.
		_ = tx.Rollback(ctx)
		if err := c.numberOwner(ctx, c.s.pool, tenant, g); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// numberOwner returns a *callin.NumberInUseError when another group of the
// tenant owns one of g's numbers.
func (c callinStore) numberOwner(ctx context.Context, q querier, tenant string, g *callin.Group) error {
	var number, owner string
	err := q.QueryRow(ctx, `SELECT number, group_name FROM callin_numbers
		WHERE ccid=$1 AND number = ANY($2::text[]) AND group_name <> $3 ORDER BY number LIMIT 1`, tenant, g.Numbers, g.Name).Scan(&number, &owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return &callin.NumberInUseError{Number: number, Group: owner}
}

const groupColumns = `g.name, g.expiry_seconds, g.access_codes, g.code_length, g.allocation, g.next_index, g.updated_at,
	COALESCE((SELECT array_agg(n.number ORDER BY n.position) FROM callin_numbers n WHERE n.ccid = g.ccid AND n.group_name = g.name), '{}')`

func scanGroup(row pgx.Row) (*callin.Group, error) {
	g := &callin.Group{}
	var expiry int
	if err := row.Scan(&g.Name, &expiry, &g.AccessCodes, &g.CodeLength, &g.Allocation, &g.Cursor, &g.UpdatedAt, &g.Numbers); err != nil {
		return nil, err
	}
	g.Expiry = time.Duration(expiry) * time.Second
	g.UpdatedAt = g.UpdatedAt.UTC()
	return g, nil
}

func (c callinStore) Groups(ctx context.Context, tenant string) ([]*callin.Group, error) {
	rows, err := c.s.pool.Query(ctx, `SELECT `+groupColumns+` FROM callin_groups g WHERE g.ccid=$1 ORDER BY g.name`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*callin.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

func (c callinStore) Group(ctx context.Context, tenant, name string) (*callin.Group, error) {
	g, err := scanGroup(c.s.pool.QueryRow(ctx, `SELECT `+groupColumns+` FROM callin_groups g WHERE g.ccid=$1 AND g.name=$2`, tenant, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return g, err
}

func (c callinStore) DeleteGroup(ctx context.Context, tenant, name string) (bool, error) {
	tag, err := c.s.pool.Exec(ctx, `DELETE FROM callin_groups WHERE ccid=$1 AND name=$2`, tenant, name)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

const reservationColumns = `id::text, group_name, number, access_code, from_phone, user_data, COALESCE(callback_service_id::text, ''), created_at, expires_at`

func scanReservation(row pgx.Row) (*callin.Reservation, error) {
	r := &callin.Reservation{}
	if err := row.Scan(&r.ID, &r.Group, &r.Number, &r.Code, &r.FromPhone, &r.UserData, &r.CallbackServiceID, &r.Created, &r.Expires); err != nil {
		return nil, err
	}
	r.Created, r.Expires = r.Created.UTC(), r.Expires.UTC()
	return r, nil
}

func (c callinStore) Reservations(ctx context.Context, tenant, group string, now time.Time) ([]callin.Reservation, error) {
	rows, err := c.s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM callin_reservations
		WHERE ccid=$1 AND group_name=$2 AND expires_at > $3 ORDER BY created_at, id`, tenant, group, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []callin.Reservation
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

func (c callinStore) Reserve(ctx context.Context, tenant, group string, now time.Time,
	pick func(g *callin.Group, live []callin.Reservation) (*callin.Reservation, int, error)) (*callin.Reservation, error) {
	for attempt := 1; ; attempt++ {
		r, err := c.reserveOnce(ctx, tenant, group, now, pick)
		if uniqueViolation(err) && attempt < reserveAttempts {
			continue
		}
		return r, err
	}
}

func (c callinStore) reserveOnce(ctx context.Context, tenant, group string, now time.Time,
	pick func(g *callin.Group, live []callin.Reservation) (*callin.Reservation, int, error)) (*callin.Reservation, error) {
	tx, err := c.s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	// The row lock serialises allocations of the group across every node
	// until this transaction ends.
	g, err := scanGroup(tx.QueryRow(ctx, `SELECT `+groupColumns+` FROM callin_groups g WHERE g.ccid=$1 AND g.name=$2 FOR UPDATE`, tenant, group))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM callin_reservations WHERE ccid=$1 AND number = ANY($2::text[]) AND expires_at <= $3`,
		tenant, g.Numbers, now); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT number, access_code FROM callin_reservations WHERE ccid=$1 AND number = ANY($2::text[])`, tenant, g.Numbers)
	if err != nil {
		return nil, err
	}
	var live []callin.Reservation
	for rows.Next() {
		var r callin.Reservation
		if err := rows.Scan(&r.Number, &r.Code); err != nil {
			rows.Close()
			return nil, err
		}
		live = append(live, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	r, cursor, err := pick(g, live)
	if err != nil {
		return nil, err
	}
	var ud, cbID any
	if len(r.UserData) > 0 {
		ud = string(r.UserData)
	}
	if r.CallbackServiceID != "" {
		cbID = r.CallbackServiceID
	}
	if _, err := tx.Exec(ctx, `INSERT INTO callin_reservations (id, ccid, group_name, number, access_code, from_phone, user_data, callback_service_id, created_at, expires_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
		r.ID, tenant, g.Name, r.Number, r.Code, r.FromPhone, ud, cbID, r.Created, r.Expires); err != nil {
		return nil, err
	}
	if cursor != g.Cursor {
		if _, err := tx.Exec(ctx, `UPDATE callin_groups SET next_index=$3 WHERE ccid=$1 AND name=$2`, tenant, g.Name, cursor); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (c callinStore) Release(ctx context.Context, tenant, number, code string, now time.Time, accept func(*callin.Reservation) bool) (*callin.Reservation, error) {
	tx, err := c.s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	// SKIP LOCKED: a reservation another match is releasing right now is
	// not a candidate, so one reservation answers one call.
	rows, err := tx.Query(ctx, `SELECT `+reservationColumns+` FROM callin_reservations
		WHERE ccid=$1 AND number=$2 AND expires_at > $3 AND ($4 = '' OR access_code = $4)
		ORDER BY created_at, id FOR UPDATE SKIP LOCKED`, tenant, number, now, code)
	if err != nil {
		return nil, err
	}
	var found *callin.Reservation
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if accept(r) {
			found = r
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if found == nil {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM callin_reservations WHERE id=$1`, found.ID); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return found, nil
}

func (c callinStore) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	tag, err := c.s.pool.Exec(ctx, `DELETE FROM callin_reservations WHERE id IN (
		SELECT id FROM callin_reservations WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, now, limit)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
