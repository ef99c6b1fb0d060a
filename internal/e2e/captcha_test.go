package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

// captchaToken gets a fresh single-use token from the simulated reCAPTCHA.
func captchaToken(t *testing.T, s *testenv.Stack) string {
	t.Helper()
	r, err := testenv.Do("POST", s.Sim.AdminURL+"/sim/captcha/token", nil, nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("sim captcha token: %v %v", err, r)
	}
	var tok struct {
		Token string `json:"token"`
	}
	decode(t, r.Body, &tok)
	return tok.Token
}

// captchaCreate books an immediate callback with the token (none when
// empty) and returns the status and the answer.
func captchaCreate(t *testing.T, n *testenv.Node, key, phone, token string) (int, map[string]any) {
	t.Helper()
	body := map[string]any{"serviceName": "Callback_Sales", "phoneNumber": phone}
	if token != "" {
		body["captchaToken"] = token
	}
	return n.External(t, "POST", "/engagement/v3/callbacks/create", key, body)
}

func TestCaptcha(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	ccid := demoCCID(s)
	phone := 0
	next := func() string { phone++; return "+1555010" + strconv.Itoa(1000+phone) }

	// The settings' shape is checked before they are stored.
	for _, bad := range []string{`{"secret":"x"}`, `{"enabled":true}`, `{"enabled":"yes","secret":"x"}`,
		`{"enabled":true,"secret":"x","siteKey":"y"}`, `{"enabled":null,"secret":"x"}`} {
		if code, b := putTenantCredentials(t, n, ccid, "captcha", bad); code != 400 {
			t.Errorf("PUT captcha %s: %d %s", bad, code, b)
		}
	}
	if code, b := putTenantCredentials(t, n, ccid, "captcha", map[string]any{"enabled": true, "secret": testenv.CaptchaSecret}); code != 200 {
		t.Fatalf("PUT captcha: %d %s", code, b)
	}

	// CAPTCHA on: the token is required, valid once.
	code, m := captchaCreate(t, n, demoKey, next(), "")
	if code != 400 || envelopeMessage(m) != "captchaToken is required" {
		t.Fatalf("without a token: %d %v", code, m)
	}
	tok := captchaToken(t, s)
	if code, m = captchaCreate(t, n, demoKey, next(), tok); code != 200 {
		t.Fatalf("with a valid token: %d %v", code, m)
	}
	code, m = captchaCreate(t, n, demoKey, next(), tok)
	if code != 400 || !strings.Contains(envelopeMessage(m), "already used") {
		t.Fatalf("the same token again: %d %v", code, m)
	}
	if code, m = captchaCreate(t, n, demoKey, next(), "not-a-token"); code != 400 || !strings.Contains(envelopeMessage(m), "Invalid captchaToken") {
		t.Fatalf("an unknown token: %d %v", code, m)
	}

	// A request refused for another reason does not use the token up.
	tok = captchaToken(t, s)
	code, m = n.External(t, "POST", "/engagement/v3/callbacks/create", demoKey,
		map[string]any{"serviceName": "No_Such_Service", "phoneNumber": next(), "captchaToken": tok})
	if code != 400 || !strings.Contains(envelopeMessage(m), "Unknown service") {
		t.Fatalf("unknown service: %d %v", code, m)
	}
	if code, m = captchaCreate(t, n, demoKey, next(), tok); code != 200 {
		t.Fatalf("the token after a refused request: %d %v", code, m)
	}

	// The GMS API ORS applications call is not a public booking.
	if code, b := n.Internal(t, "POST", "/genesys/1/service/callback/Callback_Sales", ccid,
		map[string]string{"_customer_number": next()}); code != 200 {
		t.Fatalf("internal create: %d %s", code, b)
	}

	// CAPTCHA off (Other never enabled it): no token needed.
	if code, m = captchaCreate(t, n, otherKey, next(), ""); code != 200 {
		t.Fatalf("captcha off: %d %v", code, m)
	}

	// Legacy verify: success once, then false; it needs both fields.
	tok = captchaToken(t, s)
	for i, want := range []bool{true, false} {
		code, m = n.External(t, "POST", "/engagement/v3/captcha/verify", demoKey, map[string]string{"siteKey": "site-key", "captchaToken": tok})
		if code != 200 || m["data"].(map[string]any)["success"] != want {
			t.Fatalf("verify #%d: %d %v", i+1, code, m)
		}
	}
	if code, m = n.External(t, "POST", "/engagement/v3/captcha/verify", demoKey, map[string]string{"captchaToken": tok}); code != 400 {
		t.Fatalf("verify without siteKey: %d %v", code, m)
	}
	if code, m = n.External(t, "POST", "/engagement/v3/captcha/verify", otherKey, map[string]string{"siteKey": "k", "captchaToken": tok}); code != 400 {
		t.Fatalf("verify without a stored secret: %d %v", code, m)
	}

	// Switched off: every node follows within the settings' cache time.
	if code, b := putTenantCredentials(t, n, ccid, "captcha", map[string]any{"enabled": false}); code != 200 {
		t.Fatalf("PUT captcha off: %d %s", code, b)
	}
	eventually(t, 10*time.Second, "CAPTCHA off", func() bool {
		code, _ := captchaCreate(t, n, demoKey, next(), "")
		return code == 200
	})

	// A verifier outage refuses the booking (503), it never lets it pass.
	if code, b := putTenantCredentials(t, n, ccid, "captcha", map[string]any{"enabled": true, "secret": testenv.CaptchaSecret}); code != 200 {
		t.Fatalf("PUT captcha: %d %s", code, b)
	}
	n.Env["CAPTCHA_VERIFY_URL"] = fmt.Sprintf("http://127.0.0.1:%d/recaptcha/api/siteverify", testenv.FreePort(t))
	s.RestartNode(t, 0)
	code, m = captchaCreate(t, n, demoKey, next(), captchaToken(t, s))
	if code != 503 || !strings.Contains(envelopeMessage(m), "unavailable") {
		t.Fatalf("verifier down: %d %v", code, m)
	}
	if code, m = captchaCreate(t, n, otherKey, next(), ""); code != 200 {
		t.Fatalf("captcha off while the verifier is down: %d %v", code, m)
	}
}
