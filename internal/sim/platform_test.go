package sim_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/sim/simtest"
)

// TestGessimPlatformServices runs the real command with every optional
// service and reaches each one over its own listener.
func TestGessimPlatformServices(t *testing.T) {
	bin := buildGessim(t)
	redisAddr := simtest.StartRedis(t)
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", simtest.FreePort(t)) }
	auth, admin, urs0, urs1 := addr(), addr(), addr(), addr()
	stats, conf, fcmAddr, captchaAddr := addr(), addr(), addr(), addr()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "--fixture", simtest.WriteFixture(t, simtest.PlatformFixture),
		"--voice-redis", redisAddr, "--auth-addr", auth, "--env-addr", addr(), "--ors-addr", addr(),
		"--admin-addr", admin, "--urs-addr", urs0, "--urs-addr", urs1, "--stats-addr", stats,
		"--conf-addr", conf, "--fcm-addr", fcmAddr, "--captcha-addr", captchaAddr)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	adminURL := "http://" + admin
	var health struct {
		Status string `json:"status"`
		Addrs  struct {
			URS     []string `json:"urs"`
			Stats   string   `json:"stats"`
			Conf    string   `json:"conf"`
			FCM     string   `json:"fcm"`
			Captcha string   `json:"captcha"`
		} `json:"addrs"`
	}
	waitFor(t, "gessim health", func() bool {
		resp, err := client.Get(adminURL + "/sim/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&health) == nil && resp.StatusCode == http.StatusOK
	})
	if a := health.Addrs; len(a.URS) != 2 || a.URS[0] != urs0 || a.URS[1] != urs1 || a.Stats != stats || a.Conf != conf || a.FCM != fcmAddr || a.Captcha != captchaAddr {
		t.Fatalf("addrs = %+v", a)
	}

	// URS: both instances answer; instance 0 can be taken down.
	lvq := func(addr string) (int, map[string]any) {
		return do(t, http.MethodGet, "http://"+addr+"/urs/call/max/lvq/VQ_Sales?tenant=Environment&aqt=urs2", "", nil)
	}
	if code, body := lvq(urs1); code != http.StatusOK || body["ewt"] != 42.0 || body["pos"] != 3.0 {
		t.Errorf("urs1: %d %v", code, body)
	}
	do(t, http.MethodPost, adminURL+"/sim/urs/0/down", "", nil)
	if code, _ := lvq(urs0); code != http.StatusServiceUnavailable {
		t.Errorf("urs0 down: %d", code)
	}
	do(t, http.MethodPost, adminURL+"/sim/urs/0/up", "", nil)
	if code, _ := lvq(urs0); code != http.StatusOK {
		t.Errorf("urs0 up: %d", code)
	}
	if _, calls := do(t, http.MethodGet, adminURL+"/sim/urs/calls", "", nil); calls["total"] != 2.0 {
		t.Errorf("urs calls = %v", calls)
	}

	// GWS Statistics and Configuration with a client-credentials token.
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	basic := map[string]string{"Content-Type": "application/x-www-form-urlencoded",
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ges-client:ges-secret"))}
	code, tok := do(t, http.MethodPost, "http://"+auth+"/auth/v3/oauth/token", form, basic)
	if code != http.StatusOK {
		t.Fatalf("token: %d %v", code, tok)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok["access_token"].(string), "Content-Type": "application/json",
		"X-Ccid": simtest.DemoCCID}
	if code, body := do(t, http.MethodPost, "http://"+stats+"/statistics/v3/operations/get-statistic-ex", "", bearer); code != http.StatusOK ||
		!strings.Contains(fmt.Sprint(body["data"]), "CurrentNumberWaitingCalls") {
		t.Errorf("stats: %d %v", code, body)
	}
	if code, body := do(t, http.MethodPost, "http://"+conf+"/configuration/v3/objects/scripts", `{"data":{"name":"Callback_Sales"}}`, bearer); code != http.StatusCreated {
		t.Errorf("create script: %d %v", code, body)
	}
	if code, body := do(t, http.MethodGet, "http://"+conf+"/configuration/v3/access-groups/Sales%20Monitors/permissions/scripts/Callback_Sales", "", bearer); code != http.StatusOK ||
		body["data"].(map[string]any)["read"] != true {
		t.Errorf("permission: %d %v", code, body)
	}
	var scripts []map[string]any
	getJSON(t, adminURL+"/sim/config/scripts", &scripts)
	if len(scripts) != 1 || scripts[0]["name"] != "Callback_Sales" {
		t.Errorf("scripts = %v", scripts)
	}

	// reCAPTCHA: a token from the admin API verifies once.
	_, issued := do(t, http.MethodPost, adminURL+"/sim/captcha/token", "", nil)
	verify := url.Values{"secret": {"captcha-secret"}, "response": {issued["token"].(string)}}.Encode()
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if _, body := do(t, http.MethodPost, "http://"+captchaAddr+"/recaptcha/api/siteverify", verify, formHdr); body["success"] != true {
		t.Errorf("siteverify: %v", body)
	}

	// FCM without service accounts in the fixture takes any well-formed JWT.
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now().Unix()
	jwt := enc(map[string]string{"alg": "RS256"}) + "." + enc(map[string]any{"iss": "push@ges-demo.iam.gserviceaccount.com",
		"aud": "http://" + fcmAddr + "/token", "iat": now, "exp": now + 3600}) + ".c2ln"
	grant := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jwt}}.Encode()
	code, gt := do(t, http.MethodPost, "http://"+fcmAddr+"/token", grant, formHdr)
	if code != http.StatusOK {
		t.Fatalf("fcm token: %d %v", code, gt)
	}
	push := map[string]string{"Authorization": "Bearer " + gt["access_token"].(string), "Content-Type": "application/json"}
	if code, body := do(t, http.MethodPost, "http://"+fcmAddr+"/v1/projects/ges-demo/messages:send",
		`{"message":{"token":"device-1","data":{"event":"CALLBACK_UPCOMING"}}}`, push); code != http.StatusOK ||
		!strings.HasPrefix(fmt.Sprint(body["name"]), "projects/ges-demo/messages/") {
		t.Errorf("send: %d %v", code, body)
	}
	var msgs []map[string]any
	getJSON(t, adminURL+"/sim/fcm/messages", &msgs)
	if len(msgs) != 1 || msgs[0]["token"] != "device-1" {
		t.Errorf("messages = %v", msgs)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("gessim exited with %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("gessim did not stop on SIGTERM\n%s", stderr.String())
	}
}

func do(t *testing.T, method, u, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d %q is not a JSON object", method, u, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}
