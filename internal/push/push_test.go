package push_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/credentials"
	"github.com/gesgo/ges/internal/push"
	"github.com/gesgo/ges/internal/settings"
	simfcm "github.com/gesgo/ges/internal/sim/fcm"
	"github.com/gesgo/ges/internal/sim/fixture"
)

const (
	project = "ges-demo"
	email   = "push@ges-demo.iam.gserviceaccount.com"
)

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serviceAccount(t *testing.T, key *rsa.PrivateKey, tokenURI string, over map[string]string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{
		"type": "service_account", "project_id": project, "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "token_uri": tokenURI,
	}
	for k, v := range over {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func TestParseServiceAccount(t *testing.T) {
	key := rsaKey(t)
	if err := push.CheckCredentials(serviceAccount(t, key, "http://127.0.0.1:1/token", nil)); err != nil {
		t.Fatalf("valid key refused: %v", err)
	}
	if err := push.CheckCredentials(serviceAccount(t, key, "", map[string]string{"token_uri": ""})); err != nil {
		t.Fatalf("key without token_uri refused: %v", err)
	}
	for name, c := range map[string]struct {
		over map[string]string
		want string
	}{
		"no project":    {map[string]string{"project_id": ""}, "project_id"},
		"no email":      {map[string]string{"client_email": ""}, "client_email"},
		"no key":        {map[string]string{"private_key": "", "project_id": ""}, "project_id, private_key are required"},
		"bad key":       {map[string]string{"private_key": "not a key"}, "PEM"},
		"wrong type":    {map[string]string{"type": "authorized_user"}, "service_account"},
		"bad token_uri": {map[string]string{"token_uri": "file:///etc/passwd"}, "token_uri"},
	} {
		err := push.CheckCredentials(serviceAccount(t, key, "http://x/token", c.over))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
	if err := push.CheckCredentials([]byte(`[1]`)); err == nil {
		t.Error("a JSON array was accepted")
	}
}

// memCreds is a credentials store in memory.
type memCreds struct {
	mu sync.Mutex
	v  map[string][]byte
	at map[string]time.Time
}

func (m *memCreds) put(tenant string, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.v == nil {
		m.v, m.at = map[string][]byte{}, map[string]time.Time{}
	}
	m.v[tenant], m.at[tenant] = b, time.Now()
}

func (m *memCreds) Get(_ context.Context, tenant, kind string) ([]byte, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.v[tenant]
	if !ok || kind != credentials.FCM {
		return nil, time.Time{}, credentials.ErrNotFound
	}
	return b, m.at[tenant], nil
}

type simEnv struct {
	api, admin *httptest.Server
	key        *rsa.PrivateKey
}

func newSim(t *testing.T) simEnv {
	t.Helper()
	key := rsaKey(t)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	doc, _ := json.Marshal(map[string]any{"fcm": map[string]any{
		"serviceAccounts":    []map[string]string{{"clientEmail": email, "publicKeyPem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}},
		"projects":           []string{project},
		"unregisteredTokens": []string{"dead-device"},
	}})
	fx, err := fixture.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := simfcm.New(fx.FCM, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	svc.MountAdmin(r)
	e := simEnv{api: httptest.NewServer(svc.Handler()), admin: httptest.NewServer(r), key: key}
	t.Cleanup(e.api.Close)
	t.Cleanup(e.admin.Close)
	return e
}

func (e simEnv) messages(t *testing.T) []simfcm.Received {
	t.Helper()
	resp, err := http.Get(e.admin.URL + "/sim/fcm/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []simfcm.Received
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e simEnv) fail(t *testing.T, query string) {
	t.Helper()
	resp, err := http.Post(e.admin.URL+"/sim/fcm/fail?"+query, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestFCMSender(t *testing.T) {
	e := newSim(t)
	creds := &memCreds{}
	f := &push.FCM{Credentials: creds, Endpoint: e.api.URL + "/v1"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msg := push.Message{Token: "device-1", Data: map[string]string{"event": push.EventUpcoming, "callbackId": "cb-1"}}

	if err := f.Send(ctx, "t1", msg); !errors.Is(err, push.ErrNotConfigured) || push.Unreachable(err) {
		t.Fatalf("no credentials: %v", err)
	}
	creds.put("t1", serviceAccount(t, e.key, e.api.URL+simfcm.TokenPath, nil))
	if err := f.Send(ctx, "t1", msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := e.messages(t)
	if len(got) != 1 || got[0].Token != "device-1" || got[0].Data["event"] != push.EventUpcoming || got[0].Project != project || got[0].ServiceAccount != email {
		t.Fatalf("received %+v", got)
	}

	// A server error is the platform's fault; an unregistered device is not.
	e.fail(t, "count=1&status=500")
	if err := f.Send(ctx, "t1", msg); err == nil || !push.Unreachable(err) {
		t.Fatalf("500: %v (unreachable %v)", err, push.Unreachable(err))
	}
	if err := f.Send(ctx, "t1", push.Message{Token: "dead-device", Data: msg.Data}); err == nil || push.Unreachable(err) {
		t.Fatalf("unregistered: %v", err)
	}

	// A key the token endpoint refuses is a credentials problem.
	creds.put("t1", serviceAccount(t, rsaKey(t), e.api.URL+simfcm.TokenPath, nil))
	if err := f.Send(ctx, "t1", msg); err == nil || push.Unreachable(err) {
		t.Fatalf("foreign key: %v", err)
	}

	// Nobody listening: unreachable.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	g := &push.FCM{Credentials: creds, Endpoint: dead.URL + "/v1"}
	creds.put("t2", serviceAccount(t, e.key, e.api.URL+simfcm.TokenPath, nil))
	if err := g.Send(ctx, "t2", msg); err == nil || !push.Unreachable(err) {
		t.Fatalf("closed endpoint: %v", err)
	}
}

// memCallbacks is a callback store with Update's compare-and-set semantics.
type memCallbacks struct {
	mu  sync.Mutex
	cbs map[string]*callback.Callback
}

func (m *memCallbacks) Get(_ context.Context, _, id string) (*callback.Callback, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cb, ok := m.cbs[id]
	if !ok {
		return nil, callback.ErrNotFound
	}
	return cb.Clone(), nil
}

func (m *memCallbacks) Update(_ context.Context, _, id, _ string, change func(*callback.Callback) (bool, error)) (*callback.Callback, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.cbs[id]
	if !ok {
		return nil, callback.ErrNotFound
	}
	next := cur.Clone()
	changed, err := change(next)
	if err != nil || !changed {
		return cur.Clone(), err
	}
	next.Rev++
	m.cbs[id] = next
	return next.Clone(), nil
}

func (m *memCallbacks) set(cb *callback.Callback) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cbs[cb.ID] = cb.Clone()
}

type services map[string]*settings.Service

func (s services) Service(_, name string) (*settings.Service, bool) {
	v, ok := s[name]
	return v, ok
}

type recorder struct {
	mu   sync.Mutex
	msgs []push.Message
	err  error
}

func (r *recorder) Send(_ context.Context, _ string, m push.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return r.err
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, m.Data["event"]+":"+m.Token)
	}
	return out
}

func TestNotifier(t *testing.T) {
	store := &memCallbacks{cbs: map[string]*callback.Callback{}}
	svcs := services{
		"Sales":  {Name: "Sales", CallDirection: settings.UserTerminated, PushThresholdMin: 5},
		"CallIn": {Name: "CallIn", CallDirection: settings.UserOriginated, PushThresholdMin: 5, DisplayNumber: "+18005550100"},
	}
	rec := &recorder{}
	var okN, failN, unreachableN int
	var mu sync.Mutex
	var ursEWT atomic.Int64
	ursEWT.Store(-1)
	newNotifier := func() *push.Notifier {
		return &push.Notifier{Callbacks: store, Settings: svcs, Sender: rec, Workers: 2,
			Estimate: func(context.Context, string, string) (int, bool) { e := int(ursEWT.Load()); return e, e >= 0 },
			Sent: func(_, ch string, ok bool) {
				mu.Lock()
				defer mu.Unlock()
				if ch != push.Channel {
					t.Errorf("channel %q", ch)
				}
				if ok {
					okN++
				} else {
					failN++
				}
			},
			Unreachable: func() { mu.Lock(); unreachableN++; mu.Unlock() }}
	}
	// Two notifiers, as on two nodes.
	a, b := newNotifier(), newNotifier()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = a.Run(ctx) }()
	go func() { _ = b.Run(ctx) }()

	targets := `[{"channel":"FCM","target":"tok-1"},{"channel":"FCM","target":"tok-2"},{"channel":"FCM","target":"tok-1"}]`
	cb := &callback.Callback{ID: "cb-1", Tenant: "t", Service: "Sales", Phone: "+1555", State: callback.Queued, EWT: 900,
		Props: map[string]string{push.KeyTargets: targets}}
	// report applies an ORS report to the stored record, as Service.Report
	// does, and calls the hook of both nodes.
	report := func(mut func(*callback.Callback)) {
		if _, err := store.Get(context.Background(), "t", cb.ID); err != nil {
			store.set(cb)
		}
		cur, _ := store.Update(context.Background(), "t", cb.ID, "ors", func(c *callback.Callback) (bool, error) { mut(c); return true, nil })
		a.Reported(cur)
		b.Reported(cur)
	}
	wait := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for len(rec.events()) < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // anything extra would show up now
	}

	report(func(c *callback.Callback) {})
	wait(0)
	if got := rec.events(); len(got) != 0 {
		t.Fatalf("sent above the threshold: %v", got)
	}
	report(func(c *callback.Callback) { c.EWT = 120 })
	wait(2)
	report(func(c *callback.Callback) { c.EWT = 60 })
	report(func(c *callback.Callback) { c.State = callback.Routing })
	wait(2)
	if got := rec.events(); len(got) != 2 || got[0] == got[1] || !strings.HasPrefix(got[0], push.EventUpcoming+":tok-") {
		t.Fatalf("events = %v, want one UPCOMING per target", got)
	}
	live, _ := store.Get(ctx, "t", "cb-1")
	if live.Props[push.KeyUpcomingSent] == "" {
		t.Fatalf("record not marked: %v", live.Props)
	}
	d := rec.msgs[0].Data
	if d["callbackId"] != "cb-1" || d["serviceName"] != "Sales" || d["ewt"] != "120" || d["phoneNumber"] != "+1555" {
		t.Fatalf("payload %v", d)
	}

	// Unknown ORS wait: URS' estimate decides.
	rec.mu.Lock()
	rec.msgs = nil
	rec.mu.Unlock()
	cb2 := &callback.Callback{ID: "cb-2", Tenant: "t", Service: "Sales", State: callback.Queued, EWT: -1,
		Props: map[string]string{push.KeyTargets: `[{"channel":"FCM","target":"tok-3"}]`}}
	store.set(cb2)
	a.Reported(cb2)
	wait(0)
	if got := rec.events(); len(got) != 0 {
		t.Fatalf("sent without any wait known: %v", got)
	}
	ursEWT.Store(30)
	a.Reported(cb2)
	wait(1)
	if got := rec.events(); len(got) != 1 || got[0] != push.EventUpcoming+":tok-3" {
		t.Fatalf("events = %v", got)
	}

	// USERORIGINATED: UPCOMING, then CONNECT when ORS routes it; failures
	// are counted and leave the record as it was otherwise.
	ursEWT.Store(-1)
	rec.mu.Lock()
	rec.msgs, rec.err = nil, &push.SendError{Unreachable: true, Err: errors.New("down")}
	rec.mu.Unlock()
	cb = &callback.Callback{ID: "cb-3", Tenant: "t", Service: "CallIn", State: callback.Queued, EWT: 100,
		Props: map[string]string{push.KeyTargets: `[{"channel":"FCM","target":"tok-4"}]`}}
	report(func(c *callback.Callback) {})
	wait(1)
	report(func(c *callback.Callback) { c.State = callback.Routing })
	wait(2)
	report(func(c *callback.Callback) { c.EWT = 0 })
	wait(2)
	got := rec.events()
	if len(got) != 2 || got[0] != push.EventUpcoming+":tok-4" || got[1] != push.EventConnect+":tok-4" {
		t.Fatalf("events = %v", got)
	}
	if rec.msgs[1].Data["dialNumber"] != "+18005550100" || rec.msgs[1].Data["state"] != "ROUTING" {
		t.Fatalf("connect payload %v", rec.msgs[1].Data)
	}
	live, _ = store.Get(ctx, "t", "cb-3")
	if live.State != callback.Routing || live.Props[push.KeyConnectSent] == "" {
		t.Fatalf("record %+v", live)
	}
	mu.Lock()
	defer mu.Unlock()
	if okN != 3 || failN != 2 || unreachableN != 2 {
		t.Fatalf("ok %d, failed %d, unreachable %d", okN, failN, unreachableN)
	}
}
