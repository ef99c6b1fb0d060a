package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// copyState is what both stores must agree on for one callback.
type copyState struct {
	rev   int64
	state string
	// Postgres only: when the record last changed and the wait ORS last
	// reported (seconds, -1 unknown), which set its deadline.
	updated time.Time
	ewt     int
}

const completed = "COMPLETED"

// tombstone is the state of a Redis tombstone: the id of a create that was
// answered with an error, kept so a commit that still landed is not dialled.
const tombstone = "refused"

// The Redis record layout is read here and nowhere else, so a change of the
// encoding touches one place: key ges:{<ccid>}:cb:<id>, value
// "<rev>:<header length>:<header json><user data>", state in header field st.
func recordPattern(ccid string) string { return "ges:{" + ccid + "}:cb:*" }

func recordID(key string) string { return key[strings.LastIndex(key, ":")+1:] }

func parseRecord(v string) (copyState, error) {
	if v == "x" {
		return copyState{state: tombstone}, nil
	}
	rev, rest, ok1 := strings.Cut(v, ":")
	hl, rest, ok2 := strings.Cut(rest, ":")
	n, err := strconv.Atoi(hl)
	if !ok1 || !ok2 || err != nil || n > len(rest) {
		return copyState{}, fmt.Errorf("not a callback record: %.40q", v)
	}
	var h struct {
		State string `json:"st"`
	}
	if err := json.Unmarshal([]byte(rest[:n]), &h); err != nil {
		return copyState{}, err
	}
	r, err := strconv.ParseInt(rev, 10, 64)
	return copyState{rev: r, state: h.State}, err
}

// redisCopies reads every callback record of a tenant from GES' Redis.
func redisCopies(ctx context.Context, rdb *redis.Client, ccid string) (map[string]copyState, error) {
	out := map[string]copyState{}
	iter := rdb.Scan(ctx, 0, recordPattern(ccid), 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 500)]
		keys = keys[len(batch):]
		vals, err := rdb.MGet(ctx, batch...).Result()
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue // expired between SCAN and MGET
			}
			c, err := parseRecord(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", batch[i], err)
			}
			out[recordID(batch[i])] = c
		}
	}
	return out, nil
}

// pgCopies reads every callback row of a tenant.
func pgCopies(ctx context.Context, connString, ccid string) (map[string]copyState, error) {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id::text, rev, state, updated_at, COALESCE((header->>'e')::int, 0) - 1 FROM callbacks WHERE ccid = $1`, ccid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]copyState{}
	for rows.Next() {
		var id string
		var c copyState
		if err := rows.Scan(&id, &c.rev, &c.state, &c.updated, &c.ewt); err != nil {
			return nil, err
		}
		out[id] = c
	}
	return out, rows.Err()
}

// gmsState asks a node, over the GMS API ORS uses, for a callback's state;
// found is false for a 404.
func gmsState(n *testenv.Node, ccid, id string) (state string, found bool, err error) {
	r, err := n.InternalDo("GET", "/genesys/1/service/callback/Callback_Sales/"+id, ccid, nil)
	if err != nil {
		return "", false, err
	}
	switch r.Status {
	case 200:
	case 404:
		return "", false, nil
	default:
		return "", false, fmt.Errorf("GMS GET %s: %d %s", id, r.Status, r.Body)
	}
	var rec map[string]any
	if err := json.Unmarshal(r.Body, &rec); err != nil {
		return "", false, err
	}
	st, _ := rec["_callback_state"].(string)
	return st, true, nil
}

// drift compares the stores: a record in one and not the other (except a
// final one Redis already dropped), or a different revision or state.
func drift(pg, rd map[string]copyState) map[string]string {
	out := map[string]string{}
	for id, p := range pg {
		r, ok := rd[id]
		switch {
		case !ok && p.state != completed:
			out[id] = "live in Postgres, missing in Redis"
		case ok && r.state == tombstone:
			if p.state != completed {
				out[id] = fmt.Sprintf("refused create live in Postgres (rev %d %s)", p.rev, p.state)
			}
		case ok && (r.rev != p.rev || r.state != p.state):
			out[id] = fmt.Sprintf("Postgres rev %d %s, Redis rev %d %s", p.rev, p.state, r.rev, r.state)
		}
	}
	for id, r := range rd {
		if _, ok := pg[id]; !ok && r.state != tombstone {
			out[id] = fmt.Sprintf("in Redis only (rev %d %s)", r.rev, r.state)
		}
	}
	return out
}

// retry calls f until it succeeds or the deadline passes, for reads while a
// store may still be coming back.
func retry[T any](deadline time.Time, f func(context.Context) (T, error)) (T, error) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, err := f(ctx)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
