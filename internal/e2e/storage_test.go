package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// stores reads both stores of a stack directly, to compare them.
type stores struct {
	t   *testing.T
	s   *testenv.Stack
	rdb *redis.Client
	pg  *pgx.Conn
}

func openStores(t *testing.T, s *testenv.Stack) *stores {
	t.Helper()
	pg, err := pgx.Connect(context.Background(), s.PG.ConnString(s.DBName))
	if err != nil {
		t.Fatal(err)
	}
	st := &stores{t: t, s: s, rdb: redis.NewClient(&redis.Options{Addr: s.Redis.Addr}), pg: pg}
	t.Cleanup(func() { st.rdb.Close(); pg.Close(context.Background()) })
	return st
}

// redisRev is the revision of the Redis copy (0 when absent) and its
// header and user data.
func (st *stores) redisRec(ccid, id string) (rev int64, header map[string]any, userData string) {
	v, err := st.rdb.Get(context.Background(), "ges:{"+ccid+"}:cb:"+id).Result()
	if err == redis.Nil {
		return 0, nil, ""
	}
	if err != nil {
		st.t.Fatal(err)
	}
	r, rest, _ := strings.Cut(v, ":")
	hl, rest, _ := strings.Cut(rest, ":")
	n, _ := strconv.Atoi(hl)
	rev, _ = strconv.ParseInt(r, 10, 64)
	_ = json.Unmarshal([]byte(rest[:n]), &header)
	return rev, header, rest[n:]
}

func (st *stores) pgRec(id string) (rev int64, state string, userData string) {
	var ud *string
	err := st.pg.QueryRow(context.Background(), `SELECT rev, state, user_data::text FROM callbacks WHERE id=$1`, id).Scan(&rev, &state, &ud)
	if err == pgx.ErrNoRows {
		return 0, "", ""
	}
	if err != nil {
		st.t.Fatal(err)
	}
	if ud != nil {
		userData = *ud
	}
	return rev, state, userData
}

// same fails unless both stores hold the same revision and state of id.
func (st *stores) same(ccid, id string) {
	st.t.Helper()
	rr, h, _ := st.redisRec(ccid, id)
	pr, ps, _ := st.pgRec(id)
	if rr != pr || h["st"] != ps {
		st.t.Fatalf("stores differ for %s: redis rev %d %v, postgres rev %d %s", id, rr, h["st"], pr, ps)
	}
}

// A Redis that restarts from its own, older snapshot still holds the
// restore marker: GES must not trust it. Every callback acknowledged after
// the snapshot is restored and handed off; one cancelled after the
// snapshot stays cancelled and is never dialled.
func TestRedisSnapshotRestartIsNotTrusted(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	st := openStores(t, s)
	ctx := context.Background()
	at := time.Now().Add(8 * time.Second)
	body := func(phone string) map[string]any {
		return map[string]any{"serviceName": "Callback_Sales", "phoneNumber": phone, "desiredTime": wireTime(at)}
	}
	old := create(t, n, demoKey, body("+15551000"))
	doomed := create(t, n, demoKey, body("+15551001"))
	if err := st.rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var after []string
	for i := range 20 {
		after = append(after, create(t, n, demoKey, body("+1555110"+strconv.Itoa(i/10)+strconv.Itoa(i%10))))
	}
	if code, resp := n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]any{"id": doomed}); code != 200 {
		t.Fatalf("cancel: %d %v", code, resp)
	}
	s.Redis.Kill()
	s.Redis.Restart() // loads the dump taken before the creates and the cancel
	eventually(t, 20*time.Second, "the restore", func() bool {
		rev, _, _ := st.redisRec(demoCCID(s), after[len(after)-1])
		return rev > 0
	})
	for _, id := range append(after, old) {
		eventually(t, 30*time.Second, "hand-off of "+id, func() bool { return len(entriesFor(streamEntries(t, s), id)) == 1 })
	}
	eventually(t, 10*time.Second, "the cancelled callback stays cancelled", func() bool {
		_, d := retrieve(t, n, demoKey, doomed)
		return d["callbackState"] == "COMPLETED"
	})
	if es := entriesFor(streamEntries(t, s), doomed); len(es) != 0 {
		t.Fatalf("a callback cancelled after the snapshot was dialled: %+v", es)
	}
	// Completed records are read from Postgres; Redis holds none of the
	// snapshot's stale copy.
	if rev, h, _ := st.redisRec(demoCCID(s), doomed); rev != 0 && h["st"] != "COMPLETED" {
		t.Fatalf("redis kept the stale copy: rev %d %v", rev, h)
	}
}

// With Postgres hanging (a lock holds the table), immediate creates time
// out and are refused, and none of them is ever handed to ORS: a callback
// becomes due only after its Postgres commit.
func TestRefusedCreatesAreNeverDialled(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	ctx := context.Background()
	create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15551200", "desiredTime": wireTime(time.Now().Add(time.Hour))})
	locker, err := pgx.Connect(ctx, s.PG.ConnString(s.DBName))
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE callbacks IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	refused := map[string]bool{}
	codes := make(chan int, 10)
	for i := range 10 {
		phone := "+155512" + strconv.Itoa(10+i)
		refused[phone] = true
		go func() {
			code, _ := n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": phone})
			codes <- code
		}()
	}
	for range 10 {
		if code := <-codes; code < 500 {
			t.Fatalf("create with Postgres hanging answered %d", code)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// A callback created once Postgres is back is dialled: the monitor ran
	// after the refused ones would have been due.
	control := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15551299"})
	eventually(t, 15*time.Second, "the control hand-off", func() bool { return len(entriesFor(streamEntries(t, s), control)) == 1 })
	for _, e := range streamEntries(t, s) {
		if refused[phoneOf(e)] {
			t.Fatalf("a refused create was handed to ORS: %+v", e)
		}
	}
}

func phoneOf(e entry) string {
	var p struct {
		Params map[string]string `json:"params"`
	}
	_ = json.Unmarshal([]byte(e.Fields["payload"].(string)), &p)
	return p.Params["_customer_number"]
}

// When Postgres refuses a change Redis already took (a cancel here), the
// change is refused everywhere: the caller gets a 5xx and both stores keep
// the previous state.
func TestRefusedUpdateLeavesStoresEqual(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	st := openStores(t, s)
	ctx := context.Background()
	id := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15551300", "desiredTime": wireTime(time.Now().Add(time.Hour))})
	if _, err := st.pg.Exec(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
		CREATE TRIGGER refuse BEFORE UPDATE ON callbacks FOR EACH ROW EXECUTE FUNCTION refuse()`); err != nil {
		t.Fatal(err)
	}
	if code, resp := n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]any{"id": id}); code < 500 {
		t.Fatalf("cancel with Postgres refusing: %d %v", code, resp)
	}
	if _, d := retrieve(t, n, demoKey, id); d["callbackState"] != "SCHEDULED" {
		t.Fatalf("refused cancel is visible: %v", d)
	}
	st.same(demoCCID(s), id)
	if _, err := st.pg.Exec(ctx, `DROP TRIGGER refuse ON callbacks`); err != nil {
		t.Fatal(err)
	}
	if code, resp := n.External(t, "POST", "/engagement/v3/callbacks/cancel", demoKey, map[string]any{"id": id}); code != 200 {
		t.Fatalf("cancel: %d %v", code, resp)
	}
	st.same(demoCCID(s), id)
}

// A GMS PUT that changes a user data key changes it in both stores; an
// empty value removes it.
func TestUserDataUpdateReachesBothStores(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	st := openStores(t, s)
	ccid := demoCCID(s)
	id := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15551400",
		"desiredTime": wireTime(time.Now().Add(time.Hour)), "userData": map[string]any{"order": "A1", "tier": "gold"}})
	put := func(kv map[string]string) {
		t.Helper()
		code, b := n.Internal(t, "PUT", "/genesys/1/service/callback/Callback_Sales/"+id, ccid, kv)
		if code != 200 {
			t.Fatalf("PUT %v: %d %s", kv, code, b)
		}
	}
	userData := func() (fromGet map[string]any, redisUD, pgUD map[string]any) {
		code, b := n.Internal(t, "GET", "/genesys/1/service/callback/Callback_Sales/"+id, ccid, nil)
		if code != 200 {
			t.Fatalf("GMS GET: %d %s", code, b)
		}
		_ = json.Unmarshal(b, &fromGet) // user data keys are keys of the record
		_, _, r := st.redisRec(ccid, id)
		_, _, p := st.pgRec(id)
		_ = json.Unmarshal([]byte(r), &redisUD)
		_ = json.Unmarshal([]byte(p), &pgUD)
		return
	}
	put(map[string]string{"order": "B2"})
	g, r, p := userData()
	if g["order"] != "B2" || r["order"] != "B2" || p["order"] != "B2" {
		t.Fatalf("changed key: get %v, redis %v, postgres %v", g, r, p)
	}
	put(map[string]string{"tier": ""})
	g, r, p = userData()
	_, inG := g["tier"]
	_, inR := r["tier"]
	_, inP := p["tier"]
	if inG || inR || inP || r["order"] != "B2" {
		t.Fatalf("emptied key: get %v, redis %v, postgres %v", g, r, p)
	}
	st.same(ccid, id)
}

// A callback whose ORS session ends without a final report (the report was
// lost) is not left open until its TTL: after its reported wait and the
// report timeout GES asks ORS, finds the session gone and finishes it.
func TestQuietCallbackIsFinishedWhenItsSessionIsGone(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Env: map[string]string{"MONITOR_REPORT_TIMEOUT_SECONDS": "2"}})
	n := s.Nodes[0]
	simConfig(t, s, map[string]any{"queuedMs": 100, "routingMs": 600000})
	id := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15551500"})
	var sid string
	eventually(t, 15*time.Second, "ROUTING with a session", func() bool {
		code, b := n.Internal(t, "GET", "/genesys/1/service/callback/Callback_Sales/"+id, demoCCID(s), nil)
		var rec map[string]any
		if code != 200 || json.Unmarshal(b, &rec) != nil {
			return false
		}
		sid, _ = rec["_ors_session_id"].(string)
		return rec["_callback_state"] == "ROUTING" && sid != ""
	})
	// ORS ends the session without telling GES.
	if r, err := testenv.Do("POST", s.Sim.ORSURL+"/scxml/session/"+url.PathEscape(sid)+"/terminate", nil, nil); err != nil || r.Status != 200 {
		t.Fatalf("terminate: %v %v", err, r)
	}
	eventually(t, 20*time.Second, "FAIL_ORS_SESSION_ENDED", func() bool {
		_, d := retrieve(t, n, demoKey, id)
		return d["callbackReason"] == "FAIL_ORS_SESSION_ENDED"
	})
	if es := entriesFor(streamEntries(t, s), id); len(es) != 1 {
		t.Fatalf("a callback that may have been dialled was handed off again: %+v", es)
	}
}

// Large user data is not kept in Redis (USERDATA_INLINE_BYTES, 1 kB by
// default): Redis holds the record without it, and every reader still gets
// all of it: the APIs, a change of one of its keys, and ORS in the stream
// entry.
func TestLargeUserDataStaysInPostgres(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	st := openStores(t, s)
	ccid := demoCCID(s)
	doc := strings.Repeat("lorem ipsum ", 600) // 7.2 kB
	id := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15551500",
		"desiredTime": wireTime(time.Now().Add(4 * time.Second)), "userData": map[string]any{"order": "A1", "doc": doc}})
	redisUD := func() string {
		t.Helper()
		_, _, r := st.redisRec(ccid, id)
		return r
	}
	if r := redisUD(); r != "@" {
		t.Fatalf("Redis keeps the user data: %.80q", r)
	}
	get := func() map[string]any {
		t.Helper()
		code, b := n.Internal(t, "GET", "/genesys/1/service/callback/Callback_Sales/"+id, ccid, nil)
		if code != 200 {
			t.Fatalf("GMS GET: %d %s", code, b)
		}
		var m map[string]any
		decode(t, b, &m)
		return m
	}
	if g := get(); g["doc"] != doc || g["order"] != "A1" {
		t.Fatalf("GET lost the user data: order %v, doc %d bytes", g["order"], len(fmt.Sprint(g["doc"])))
	}
	code, b := n.Internal(t, "PUT", "/genesys/1/service/callback/Callback_Sales/"+id, ccid, map[string]string{"order": "B2"})
	if code != 200 {
		t.Fatalf("PUT: %d %s", code, b)
	}
	if g := get(); g["doc"] != doc || g["order"] != "B2" {
		t.Fatalf("after a PUT: order %v, doc %d bytes", g["order"], len(fmt.Sprint(g["doc"])))
	}
	var pg map[string]any
	_, _, p := st.pgRec(id)
	_ = json.Unmarshal([]byte(p), &pg)
	if pg["doc"] != doc || pg["order"] != "B2" || redisUD() != "@" {
		t.Fatalf("stores after a PUT: postgres order %v doc %d bytes, redis %.20q", pg["order"], len(fmt.Sprint(pg["doc"])), redisUD())
	}
	var es []entry
	eventually(t, 30*time.Second, "the stream entry", func() bool {
		es = entriesFor(streamEntries(t, s), id)
		return len(es) > 0
	})
	payload := fmt.Sprint(es[0].Fields["payload"])
	if !strings.Contains(payload, "lorem ipsum lorem") || !strings.Contains(payload, "B2") {
		t.Fatalf("the entry lacks the user data: %.200s", payload)
	}
	// ORS' reports leave it where it is.
	eventually(t, 30*time.Second, "the callback completed", func() bool { return state(t, n, id) == "COMPLETED" })
	if g := get(); g["doc"] != doc {
		t.Fatal("the completed callback lost its user data")
	}
	st.same(ccid, id)
}
