package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/record"
)

// Retention is how long a record is kept after its desired time (fixed by
// the product: GDPR).
const Retention = 14 * 24 * time.Hour

// saveTimeout bounds a durable write so that a Postgres outage fails
// requests quickly instead of hanging them.
const saveTimeout = 5 * time.Second

// Store is the Postgres store of callbacks.
type Store struct {
	pool    *pgxpool.Pool
	reqs    chan *saveReq
	Batches func(n int) // told the size of each group written (metrics, benchmarks)
}

type saveReq struct {
	cb   *callback.Callback
	ev   callback.Event
	done chan error
}

// New returns a store; Run must be running for Save to work.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, reqs: make(chan *saveReq, 4096)}
}

// Pool exposes the connection pool (health checks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// maxGroup bounds how many writes share one round trip.
const maxGroup = 256

// Run writes queued saves until ctx ends, then writes what is still
// queued, so that a shutdown that stops the writer last loses nothing.
// Saves that arrive while a group is being written are grouped into the
// next one, so concurrent requests share round trips. writers groups are
// written in parallel.
func (s *Store) Run(ctx context.Context, writers int) error {
	errc := make(chan error, writers)
	for range writers {
		go func() { errc <- s.writer(ctx) }()
	}
	var err error
	for range writers {
		err = errors.Join(err, <-errc)
	}
	return err
}

func (s *Store) writer(ctx context.Context) error {
	group := make([]*saveReq, 0, maxGroup)
	for {
		group = group[:0]
		select {
		case <-ctx.Done():
			s.drain()
			return nil
		case r := <-s.reqs:
			group = append(group, r)
		}
		s.fill(&group)
		s.flush(context.WithoutCancel(ctx), group)
	}
}

func (s *Store) fill(group *[]*saveReq) {
	for len(*group) < maxGroup {
		select {
		case r := <-s.reqs:
			*group = append(*group, r)
		default:
			return
		}
	}
}

// drain writes what is queued when the writer stops.
func (s *Store) drain() {
	for {
		group := make([]*saveReq, 0, maxGroup)
		s.fill(&group)
		if len(group) == 0 {
			return
		}
		s.flush(context.Background(), group)
	}
}

func (s *Store) flush(ctx context.Context, group []*saveReq) {
	wctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	errs, err := s.write(wctx, group)
	if err != nil && len(group) > 1 {
		// One bad row must not fail its neighbours: retry one by one.
		for _, r := range group {
			one, err := s.write(wctx, []*saveReq{r})
			r.done <- errors.Join(err, one[0])
		}
	} else {
		for i, r := range group {
			r.done <- errors.Join(err, errs[i])
		}
	}
	if s.Batches != nil {
		s.Batches(len(group))
	}
}

// upsertSQL writes a group of records and their history entries in one
// statement: the rows travel as arrays, so a group of 256 costs Postgres one
// parse and one plan instead of 512. A record is stored only if its
// revision is newer, and its history entry only if its record was; the ids
// stored are returned, so a stale write is told apart and leaves no trace.
// A detached record (read without its user data) keeps the stored user data.
const upsertSQL = `WITH rows AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::bigint[], $12::jsonb[], $13::jsonb[],
    $14::timestamptz[], $15::text[], $16::text[], $17::text[], $18::bool[])
    AS r(id, ccid, service, phone, state, reason, desired_time, created_at, updated_at, retain_until, rev, header, user_data,
      ev_at, ev_state, ev_reason, ev_source, detached)
), up AS (
  INSERT INTO callbacks AS c (id, ccid, service, phone, state, reason, desired_time, created_at, updated_at, retain_until, rev, header, user_data)
  SELECT id, ccid, service, phone, state, NULLIF(reason, ''), desired_time, created_at, updated_at, retain_until, rev, header, user_data FROM rows
  ON CONFLICT (id) DO UPDATE SET service=EXCLUDED.service, phone=EXCLUDED.phone, state=EXCLUDED.state, reason=EXCLUDED.reason,
    desired_time=EXCLUDED.desired_time, updated_at=EXCLUDED.updated_at, retain_until=EXCLUDED.retain_until, rev=EXCLUDED.rev,
    header=EXCLUDED.header,
    user_data=CASE WHEN (SELECT detached FROM rows WHERE rows.id = EXCLUDED.id) THEN c.user_data ELSE EXCLUDED.user_data END
  WHERE c.rev < EXCLUDED.rev AND c.ccid = EXCLUDED.ccid
  RETURNING c.id, c.rev
), ev AS (
  INSERT INTO callback_events (callback_id, rev, ccid, at, state, reason, source)
  SELECT r.id, r.rev, r.ccid, r.ev_at, r.ev_state, NULLIF(r.ev_reason, ''), r.ev_source FROM rows r JOIN up ON up.id = r.id AND up.rev = r.rev
  ON CONFLICT DO NOTHING
)
SELECT id::text FROM up`

// rounds splits a group so that no id appears twice in one statement (an
// upsert cannot touch a row twice); the rounds run in order, so two
// changes of one record are written in the order they were queued.
func rounds(group []*saveReq) [][]int {
	var out [][]int
	seen := make([]map[string]bool, 0, 1)
	for i, r := range group {
		k := 0
		for k < len(seen) && seen[k][r.cb.ID] {
			k++
		}
		if k == len(seen) {
			seen = append(seen, map[string]bool{})
			out = append(out, nil)
		}
		seen[k][r.cb.ID] = true
		out[k] = append(out[k], i)
	}
	return out
}

// write commits a group in one transaction. errs[i] is ErrStale for a
// record whose stored revision is not older (the upsert changed nothing);
// err fails the whole group.
func (s *Store) write(ctx context.Context, group []*saveReq) (errs []error, err error) {
	errs = make([]error, len(group))
	rs := rounds(group)
	if len(rs) == 1 {
		// One statement is atomic on its own: no transaction, one round
		// trip.
		return errs, s.writeRound(ctx, s.pool, group, rs[0], errs)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return errs, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	for _, round := range rs {
		if err := s.writeRound(ctx, tx, group, round, errs); err != nil {
			return errs, err
		}
	}
	return errs, tx.Commit(ctx)
}

func (s *Store) writeRound(ctx context.Context, tx querier, group []*saveReq, round []int, errs []error) error {
	n := len(round)
	var (
		ids, ccids, services, phones, states, reasons = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		desired, created, updated, retain, evAt       = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		revs                                          = make([]int64, n)
		headers, userData                             = make([]*string, n), make([]*string, n)
		evStates, evReasons, evSources                = make([]string, n), make([]string, n), make([]string, n)
		detached                                      = make([]bool, n)
	)
	for j, i := range round {
		cb, ev := group[i].cb, group[i].ev
		ids[j], ccids[j], services[j], phones[j], states[j], reasons[j] = cb.ID, cb.Tenant, cb.Service, cb.Phone, string(cb.State), cb.Reason
		desired[j], created[j], updated[j], retain[j], revs[j] = cb.Desired, cb.Created, cb.Updated, cb.Desired.Add(Retention), cb.Rev
		h := string(record.Encode(cb))
		headers[j] = &h
		if len(cb.UserData) > 0 {
			u := string(cb.UserData)
			userData[j] = &u
		}
		evAt[j], evStates[j], evReasons[j], evSources[j] = ev.At, string(ev.State), ev.Reason, ev.Source
		detached[j] = cb.Detached
	}
	rows, err := tx.Query(ctx, upsertSQL, ids, ccids, services, phones, states, reasons, desired, created, updated, retain, revs,
		headers, userData, evAt, evStates, evReasons, evSources, detached)
	if err != nil {
		return err
	}
	stored := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		stored[id] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for j, i := range round {
		if !stored[ids[j]] {
			errs[i] = callback.ErrStale
		}
	}
	return nil
}

// Save writes cb and its history entry durably; it returns once committed,
// with callback.ErrStale when Postgres holds this revision or a newer one.
// Every wait is bounded: a stopped writer or a hung Postgres fails the save
// instead of holding its caller.
func (s *Store) Save(ctx context.Context, cb *callback.Callback, ev callback.Event) error {
	return s.SaveMany(ctx, []*callback.Callback{cb}, []callback.Event{ev})[0]
}

// SaveMany is Save for several records: they are queued together, so they
// share the writers' round trips, and waited for together.
func (s *Store) SaveMany(ctx context.Context, cbs []*callback.Callback, evs []callback.Event) []error {
	errs := make([]error, len(cbs))
	reqs := make([]*saveReq, len(cbs))
	expired := make(chan struct{}) // closed: every wait below sees it
	t := time.AfterFunc(2*saveTimeout, func() { close(expired) })
	defer t.Stop()
	for i, cb := range cbs {
		r := &saveReq{cb: cb, ev: evs[i], done: make(chan error, 1)}
		select {
		case s.reqs <- r:
			reqs[i] = r
		case <-ctx.Done():
			errs[i] = ctx.Err()
		case <-expired:
			errs[i] = errors.New("postgres write queue is full")
		}
		if errs[i] != nil {
			for j := i + 1; j < len(cbs); j++ {
				errs[j] = errs[i]
			}
			break
		}
	}
	for i, r := range reqs {
		if r == nil {
			continue
		}
		select {
		case errs[i] = <-r.done:
		case <-ctx.Done():
			errs[i] = ctx.Err()
		case <-expired:
			errs[i] = errors.New("postgres write timed out")
		}
	}
	return errs
}

// UserData returns the stored user data of a tenant's callbacks that have
// some, in one query (the hot store keeps large user data out).
func (s *Store) UserData(ctx context.Context, tenant string, ids []string) (map[string]json.RawMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, user_data FROM callbacks WHERE ccid=$1 AND id = ANY($2::uuid[]) AND user_data IS NOT NULL`, tenant, ids)
	if err != nil {
		return nil, &callback.Error{Kind: callback.KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
	}
	defer rows.Close()
	out := make(map[string]json.RawMessage, len(ids))
	for rows.Next() {
		var id string
		var u []byte
		if err := rows.Scan(&id, &u); err != nil {
			return nil, err
		}
		out[id] = u
	}
	return out, rows.Err()
}

// Revs returns the stored revision of each of a tenant's callbacks that
// exists, in one query: the monitor checks a batch against the truth before
// handing it off.
func (s *Store) Revs(ctx context.Context, tenant string, ids []string) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, rev FROM callbacks WHERE ccid=$1 AND id = ANY($2::uuid[])`, tenant, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int64, len(ids))
	for rows.Next() {
		var id string
		var rev int64
		if err := rows.Scan(&id, &rev); err != nil {
			return nil, err
		}
		out[id] = rev
	}
	return out, rows.Err()
}

// GetMany reads a tenant's callbacks by id in one query; unknown ids are
// left out.
func (s *Store) GetMany(ctx context.Context, tenant string, ids []string) (map[string]*callback.Callback, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+selectCols+` FROM callbacks WHERE ccid=$1 AND id = ANY($2::uuid[])`, tenant, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]*callback.Callback, len(ids))
	for rows.Next() {
		cb, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[cb.ID] = cb
	}
	return out, rows.Err()
}

const selectCols = `ccid, id::text, header, user_data, rev`

func scan(row pgx.Row) (*callback.Callback, error) {
	var tenant, id string
	var h, u []byte
	var rev int64
	if err := row.Scan(&tenant, &id, &h, &u, &rev); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, callback.ErrNotFound
		}
		return nil, err
	}
	return record.Decode(tenant, id, h, u, rev)
}

// Get reads a tenant's callback.
func (s *Store) Get(ctx context.Context, tenant, id string) (*callback.Callback, error) {
	cb, err := scan(s.pool.QueryRow(ctx, `SELECT `+selectCols+` FROM callbacks WHERE id=$1 AND ccid=$2`, id, tenant))
	if err != nil && !errors.Is(err, callback.ErrNotFound) {
		return nil, &callback.Error{Kind: callback.KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
	}
	return cb, err
}

// DefaultQueryLimit caps a query by properties.
const DefaultQueryLimit = 1000

// Query returns a tenant's callbacks matching q, newest desired time first.
// The service narrows in SQL; the property filters apply to the records.
func (s *Store) Query(ctx context.Context, tenant string, q callback.Query) ([]*callback.Callback, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	sql := `SELECT ` + selectCols + ` FROM callbacks WHERE ccid=$1 AND ($2='' OR service=$2) ORDER BY desired_time DESC`
	rows, err := s.pool.Query(ctx, sql, tenant, q.Service)
	if err != nil {
		return nil, &callback.Error{Kind: callback.KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
	}
	defer rows.Close()
	var out []*callback.Callback
	for rows.Next() && len(out) < limit {
		cb, err := scan(rows)
		if err != nil {
			return nil, err
		}
		if q.Match(cb) {
			out = append(out, cb)
		}
	}
	return out, rows.Err()
}

// Count counts a tenant's callbacks in the given states, per service.
func (s *Store) Count(ctx context.Context, tenant string, states []callback.State) (map[string]int, error) {
	names := make([]string, len(states))
	for i, st := range states {
		names[i] = string(st)
	}
	rows, err := s.pool.Query(ctx, `SELECT service, count(*) FROM callbacks WHERE ccid=$1 AND state = ANY($2) GROUP BY service`, tenant, names)
	if err != nil {
		return nil, &callback.Error{Kind: callback.KindUnavailable, Msg: "Callback storage is unavailable", Err: err}
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var svc string
		var n int
		if err := rows.Scan(&svc, &n); err != nil {
			return nil, err
		}
		out[svc] = n
	}
	return out, rows.Err()
}

// LivePage returns up to limit non-final callbacks of every tenant with
// ids after the given one, in id order: the restore and the reconciler walk
// them page by page, so memory stays bounded. changedSince, when not zero,
// keeps only records changed at or after it.
func (s *Store) LivePage(ctx context.Context, after string, changedSince time.Time, limit int) ([]*callback.Callback, error) {
	return s.LiveRange(ctx, after, "", changedSince, limit)
}

// LiveRange is LivePage bounded to ids before the given one ("" = no
// bound), so that readers can walk disjoint parts of the id space at once.
func (s *Store) LiveRange(ctx context.Context, after, before string, changedSince time.Time, limit int) ([]*callback.Callback, error) {
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	if before == "" {
		before = "ffffffff-ffff-ffff-ffff-ffffffffffff"
	}
	var since any
	if !changedSince.IsZero() {
		since = changedSince
	}
	return s.records(ctx, limit, `SELECT `+selectCols+` FROM callbacks
		WHERE live AND id > $1 AND id <= $2 AND ($3::timestamptz IS NULL OR updated_at >= $3)
		ORDER BY id LIMIT $4`, after, before, since, limit)
}

// records runs a query of selectCols and decodes its rows (about n).
func (s *Store) records(ctx context.Context, n int, sql string, args ...any) ([]*callback.Callback, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]*callback.Callback, 0, n)
	for rows.Next() {
		cb, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, cb)
	}
	return out, rows.Err()
}

// History returns the state history of a callback, oldest first.
func (s *Store) History(ctx context.Context, tenant, id string) ([]callback.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, rev, state, COALESCE(reason,''), COALESCE(source,'')
		FROM callback_events WHERE callback_id=$1 AND ccid=$2 ORDER BY rev`, id, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []callback.Event
	for rows.Next() {
		var e callback.Event
		var st string
		if err := rows.Scan(&e.At, &e.Rev, &st, &e.Reason, &e.Source); err != nil {
			return nil, err
		}
		e.State = callback.State(st)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeExpired deletes up to batch records past retention (and their
// history). It returns how many records it deleted; callers loop while it
// returns batch, so deletes stay small and never block the API.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time, batch int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `WITH gone AS (
		DELETE FROM callbacks WHERE id IN (SELECT id FROM callbacks WHERE retain_until < $1 LIMIT $2) RETURNING id),
	  history AS (DELETE FROM callback_events WHERE callback_id IN (SELECT id FROM gone))
	SELECT count(*) FROM gone`, now, batch).Scan(&n)
	return n, err
}
