package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const (
	demoKey  = "demo-api-key-0001"
	otherKey = "other-api-key-0001"
	// jsOfferType is what both generated clients send as cbOfferType.
	jsOfferType = "ASAP if the request does not include the desiredTime parameter and SCHEDULED if the request includes the desiredTime parameter."
)

// eventually polls cond every 50 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type entry struct {
	StreamMS   int64
	CallbackID string
	Attempt    string
	Fields     map[string]any
}

// streamEntries reads the whole NewCallbackStream of the Voice Redis.
func streamEntries(t *testing.T, s *testenv.Stack) []entry {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Voice.Addr})
	defer c.Close()
	msgs, err := c.XRange(context.Background(), "NewCallbackStream", "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE: %v", err)
	}
	out := make([]entry, 0, len(msgs))
	for _, m := range msgs {
		ms, _ := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64)
		out = append(out, entry{StreamMS: ms, CallbackID: fmt.Sprint(m.Values["callbackId"]), Attempt: fmt.Sprint(m.Values["attempt"]), Fields: m.Values})
	}
	return out
}

func entriesFor(es []entry, id string) []entry {
	var out []entry
	for _, e := range es {
		if e.CallbackID == id {
			out = append(out, e)
		}
	}
	return out
}

func create(t *testing.T, n *testenv.Node, key string, body any) string {
	t.Helper()
	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/create", key, body)
	if code != 200 {
		t.Fatalf("create: %d %v", code, resp)
	}
	return resp["data"].(map[string]any)["id"].(string)
}

func retrieve(t *testing.T, n *testenv.Node, key, id string) (int, map[string]any) {
	t.Helper()
	code, resp := n.External(t, "POST", "/engagement/v3/callbacks/retrieve", key, map[string]string{"id": id})
	data, _ := resp["data"].(map[string]any)
	if code == 200 {
		return code, data
	}
	return code, resp
}

func state(t *testing.T, n *testenv.Node, id string) string {
	t.Helper()
	code, d := retrieve(t, n, demoKey, id)
	if code != 200 {
		t.Fatalf("retrieve %s: %d %v", id, code, d)
	}
	return d["callbackState"].(string)
}

func wireTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// metricsText scrapes /metrics of a node.
func metricsText(t *testing.T, n *testenv.Node) string {
	t.Helper()
	resp, err := http.Get(n.InternalURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// simConfig changes gessim's ORS behaviour at run time.
func simConfig(t *testing.T, s *testenv.Stack, cfg map[string]any) {
	t.Helper()
	r, err := testenv.Do("POST", s.Sim.AdminURL+"/sim/ors/config", nil, cfg)
	if err != nil || r.Status != 200 {
		t.Fatalf("sim config: %v %v", err, r)
	}
}

func demoCCID(s *testenv.Stack) string  { return s.Fixture.ContactCenter("Demo").ID }
func otherCCID(s *testenv.Stack) string { return s.Fixture.ContactCenter("Other").ID }

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// gmsAs calls the GMS API of n as the contact center cc, with the body
// as text.
func gmsAs(t *testing.T, n *testenv.Node, cc string) func(method, path string, body any) (int, string) {
	return func(method, path string, body any) (int, string) {
		t.Helper()
		code, b := n.Internal(t, method, path, cc, body)
		return code, string(b)
	}
}
