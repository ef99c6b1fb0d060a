package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/testenv"
)

func TestExternalAPIRefusesBadInput(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{})
	n := s.Nodes[0]
	url := n.ExternalURL + "/engagement/v3/callbacks/create"
	type tc struct {
		name    string
		headers map[string]string
		body    string
		status  int
		message string
	}
	valid := `{"serviceName":"Callback_Sales","phoneNumber":"+15550200"}`
	cases := []tc{
		{"no key", nil, valid, 401, "Invalid or missing API key"},
		{"empty key", map[string]string{"x-api-key": ""}, valid, 401, "Invalid or missing API key"},
		{"unknown key", map[string]string{"x-api-key": "nope"}, valid, 401, "Invalid or missing API key"},
		{"upper-case header", map[string]string{"X-API-KEY": demoKey}, valid, 200, "Successful"},
		{"malformed JSON", map[string]string{"x-api-key": demoKey}, `{"serviceName":`, 400, "Malformed JSON"},
		{"not an object", map[string]string{"x-api-key": demoKey}, `[1,2]`, 400, "Malformed JSON"},
		{"missing serviceName", map[string]string{"x-api-key": demoKey}, `{"phoneNumber":"+1555"}`, 400, "serviceName is required"},
		{"missing phoneNumber", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Callback_Sales"}`, 400, "phoneNumber is required"},
		{"serviceName not a string", map[string]string{"x-api-key": demoKey}, `{"serviceName":5,"phoneNumber":"1"}`, 400, "Invalid serviceName"},
		{"bad desiredTime", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Callback_Sales","phoneNumber":"1","desiredTime":"2018-06-10T25:05:00.000Z"}`, 400, "Invalid desiredTime"},
		{"unknown service", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Nope","phoneNumber":"1"}`, 400, "Unknown service: Nope"},
		{"bad userData", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Callback_Sales","phoneNumber":"1","userData":[1]}`, 400, "Invalid userData"},
		{"bad push channel", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Callback_Sales","phoneNumber":"1","pushTargets":[{"channel":"APNS","target":"x"}]}`, 400, "only FCM"},
		{"ccid header", map[string]string{"x-api-key": demoKey, "ccid": otherCCID(s)}, valid, 400, "not accepted"},
		{"too large", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Callback_Sales","phoneNumber":"1","userData":{"big":"` + strings.Repeat("x", 600*1000) + `"}}`, 413, "exceeds"},
		// Leniency the published clients rely on.
		{"unknown fields", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Callback_Sales","phoneNumber":"+15550201","whatever":{"a":1}}`, 200, "Successful"},
		{"legacy userData string", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Callback_Sales","phoneNumber":"+15550202","userData":"{}"}`, 200, "Successful"},
		{"java desiredTime", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Callback_Sales","phoneNumber":"+15550203","desiredTime":"` + time.Now().Add(2*time.Hour).UTC().Format("2006-01-02T15:04:05Z") + `"}`, 200, "Successful"},
		{"offset desiredTime", map[string]string{"x-api-key": demoKey}, `{"serviceName":"Callback_Sales","phoneNumber":"+15550204","desiredTime":"` + time.Now().Add(2*time.Hour).In(time.FixedZone("", -5*3600)).Format("2006-01-02T15:04:05.5-07:00") + `"}`, 200, "Successful"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", url, bytes.NewBufferString(c.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range c.headers {
				req.Header[k] = []string{v} // keep the spelling
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var env struct {
				Status struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
					CorrID  string `json:"corrId"`
				} `json:"status"`
			}
			if err := jsonDecode(resp.Body, &env); err != nil {
				t.Fatalf("body is not the envelope: %v", err)
			}
			if resp.StatusCode != c.status || !strings.Contains(env.Status.Message, c.message) {
				t.Fatalf("got %d %+v, want %d containing %q", resp.StatusCode, env.Status, c.status, c.message)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
			}
			if !uuidRE.MatchString(env.Status.CorrID) {
				t.Fatalf("corrId %q", env.Status.CorrID)
			}
			wantCode := c.status
			if c.status == 200 {
				wantCode = 0
			}
			if env.Status.Code != wantCode {
				t.Fatalf("status.code %d", env.Status.Code)
			}
		})
	}
	// Unknown paths and verbs answer in the envelope too.
	if code, resp := n.External(t, "GET", "/engagement/v3/nothing", demoKey, nil); code != 404 || resp["status"] == nil {
		t.Fatalf("unknown path: %d %v", code, resp)
	}
	m := metricsText(t, n)
	for _, want := range []string{`INVALID_CONTENT_LENGTH{`, `ges_http_failed_requests_total{httpCode="401"`, `ges_http_failed_requests_total{httpCode="413"`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A missing or invalid setting stops start-up with one line naming it.
func TestStartupRefusesMissingSettings(t *testing.T) {
	ges, _ := testenv.Binaries(t)
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"DB_HOST=127.0.0.1", "DB_NAME=x", "DB_USER=u", "VMCS_REDIS_HOST=127.0.0.1", "GWS_ENV_URL=http://127.0.0.1:1"}, "REDIS_HOST"},
		{[]string{"REDIS_HOST=127.0.0.1", "REDIS_PORT=notaport", "DB_HOST=127.0.0.1", "DB_NAME=x", "DB_USER=u", "VMCS_REDIS_HOST=127.0.0.1", "GWS_ENV_URL=http://127.0.0.1:1"}, "REDIS_PORT"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, ges)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, c.env...)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			t.Fatalf("started without %s", c.want)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
			t.Fatalf("want one line naming %s, got %q", c.want, out)
		}
	}
}
