package fcm_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"github.com/go-chi/chi/v5"
	"google.golang.org/api/option"

	"github.com/gesgo/ges/internal/sim/fcm"
	"github.com/gesgo/ges/internal/sim/fixture"
)

const (
	project = "ges-test"
	email   = "ges-push@ges-test.iam.gserviceaccount.com"
)

type env struct {
	svc          *fcm.Service
	api, admin   *httptest.Server
	key, foreign *rsa.PrivateKey
}

func newEnv(t *testing.T) env {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"fcm": map[string]any{
		"serviceAccounts":    []map[string]string{{"clientEmail": email, "publicKeyPem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}},
		"projects":           []string{project},
		"unregisteredTokens": []string{"dead-device"},
	}})
	fx, err := fixture.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := fcm.New(fx.FCM, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	svc.MountAdmin(r)
	e := env{svc: svc, api: httptest.NewServer(svc.Handler()), admin: httptest.NewServer(r), key: key, foreign: foreign}
	t.Cleanup(e.api.Close)
	t.Cleanup(e.admin.Close)
	return e
}

// credentials is a service-account key file whose token_uri points at the
// simulator, which is all the Admin SDK needs to get its tokens there.
func (e env) credentials(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": "sim-key-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   email,
		"client_id":      "100000000000000000001",
		"token_uri":      e.api.URL + fcm.TokenPath,
	})
	return b
}

func (e env) client(t *testing.T, key *rsa.PrivateKey) *messaging.Client {
	t.Helper()
	ctx := context.Background()
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project},
		option.WithCredentialsJSON(e.credentials(t, key)),
		option.WithEndpoint(e.api.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.Messaging(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e env) adminPost(t *testing.T, path string) {
	t.Helper()
	resp, err := http.Post(e.admin.URL+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

func (e env) adminGet(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(e.admin.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestFirebaseAdminSDK(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, e.key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	name, err := c.Send(ctx, &messaging.Message{
		Token:        "device-1",
		Data:         map[string]string{"event": "CALLBACK_UPCOMING", "callbackId": "cb-1", "ewt": "120"},
		Notification: &messaging.Notification{Title: "Your callback", Body: "An agent calls you in 2 minutes"},
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !strings.HasPrefix(name, "projects/"+project+"/messages/") {
		t.Fatalf("name = %q", name)
	}
	if _, err := c.SendDryRun(ctx, &messaging.Message{Topic: "callbacks", Data: map[string]string{"k": "v"}}); err != nil {
		t.Fatalf("SendDryRun: %v", err)
	}
	var msgs []fcm.Received
	e.adminGet(t, "/sim/fcm/messages", &msgs)
	if len(msgs) != 2 {
		t.Fatalf("messages = %+v", msgs)
	}
	m := msgs[0]
	var note map[string]string
	_ = json.Unmarshal(m.Notification, &note)
	if m.Name != name || m.Token != "device-1" || m.Data["event"] != "CALLBACK_UPCOMING" || note["title"] != "Your callback" ||
		m.ServiceAccount != email || m.ValidateOnly || m.Project != project {
		t.Errorf("received %+v", m)
	}
	if msgs[1].Topic != "callbacks" || !msgs[1].ValidateOnly {
		t.Errorf("dry run %+v", msgs[1])
	}

	if _, err := c.Send(ctx, &messaging.Message{Token: "dead-device"}); !messaging.IsUnregistered(err) {
		t.Errorf("unregistered token: %v", err)
	}
	e.adminPost(t, "/sim/fcm/fail?count=1&status=429")
	if _, err := c.Send(ctx, &messaging.Message{Token: "device-1"}); !messaging.IsQuotaExceeded(err) {
		t.Errorf("quota: %v", err)
	}
	e.adminPost(t, "/sim/fcm/fail?count=1")
	if _, err := c.Send(ctx, &messaging.Message{Token: "device-1"}); !messaging.IsInternal(err) {
		t.Errorf("internal: %v", err)
	}
	// The SDK retries a 503 by itself, so one injected 503 is absorbed.
	e.adminPost(t, "/sim/fcm/fail?count=1&status=503")
	if _, err := c.Send(ctx, &messaging.Message{Token: "device-1"}); err != nil {
		t.Errorf("send after one 503: %v", err)
	}
	var calls fcm.Calls
	e.adminGet(t, "/sim/fcm/calls", &calls)
	if calls.Tokens != 1 || calls.Sends != 7 || calls.Fail.Applied != 3 || calls.Unauthorized != 0 {
		t.Errorf("calls = %+v", calls)
	}

	// A key the fixture does not list cannot get a token, so nothing is
	// sent. The SDK retries the failed token fetch as a network error; a
	// short deadline keeps the test quick.
	short, stop := context.WithTimeout(ctx, 2*time.Second)
	defer stop()
	if _, err := e.client(t, e.foreign).Send(short, &messaging.Message{Token: "device-1"}); err == nil {
		t.Error("a foreign key got a message through")
	}
	e.adminGet(t, "/sim/fcm/calls", &calls)
	if calls.TokensRejected == 0 {
		t.Errorf("rejected tokens = %+v", calls)
	}
}

func TestSendNeedsAToken(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"", "ya29.forged"} {
		req, _ := http.NewRequest(http.MethodPost, e.api.URL+"/v1/projects/"+project+"/messages:send",
			strings.NewReader(`{"message":{"token":"device-1"}}`))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct {
				Status string `json:"status"`
			} `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || body.Error.Status != "UNAUTHENTICATED" {
			t.Errorf("token %q: %d %+v", tok, resp.StatusCode, body)
		}
	}
	resp, err := http.PostForm(e.api.URL+fcm.TokenPath, url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("wrong grant: %d", resp.StatusCode)
	}
	resp, err = http.PostForm(e.api.URL+fcm.TokenPath, url.Values{"grant_type": {fcm.JWTBearer}, "assertion": {"not.a.jwt"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage assertion: %d", resp.StatusCode)
	}
}

// Without service accounts in the fixture any well-formed unexpired JWT is
// exchanged, whoever signed it.
func TestAnyJWTWhenNoKeysListed(t *testing.T) {
	svc, err := fcm.New(fixture.FCM{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	now := time.Now().Unix()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return strings.TrimRight(base64URL(b), "=")
	}
	jwt := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." +
		enc(map[string]any{"iss": "anyone@example.com", "aud": srv.URL + "/token", "scope": "https://www.googleapis.com/auth/firebase.messaging", "iat": now, "exp": now + 3600}) +
		".c2lnbmF0dXJl"
	resp, err := http.PostForm(srv.URL+fcm.TokenPath, url.Values{"grant_type": {fcm.JWTBearer}, "assertion": {jwt}})
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || tok["token_type"] != "Bearer" || tok["access_token"] == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, tok)
	}
	expired := enc(map[string]string{"alg": "none"}) + "." + enc(map[string]any{"iss": "a", "aud": "b", "iat": now - 7200, "exp": now - 3600}) + ".eA"
	resp, err = http.PostForm(srv.URL+fcm.TokenPath, url.Values{"grant_type": {fcm.JWTBearer}, "assertion": {expired}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("expired JWT: %d", resp.StatusCode)
	}
}

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
