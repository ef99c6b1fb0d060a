package urs_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/urs"
)

func start(t *testing.T) (*urs.Service, *httptest.Server) {
	t.Helper()
	fx, err := fixture.Parse([]byte(`{"urs":{"queues":{
		"VQ_Sales": {"ewt": 42.5, "position": 3, "ewtByAqt": {"urs2": 50}},
		"VQ_Weighted": {"ewt": 10, "position": 4, "wpos": 2},
		"VQ_NoAgents": {"noAgents": true, "position": 1},
		"VQ_Slow": {"ewt": 5, "position": 1, "delayMs": 300}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := urs.Start(fx.URS, []string{"127.0.0.1:0", "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	r := chi.NewRouter()
	s.MountAdmin(r)
	admin := httptest.NewServer(r)
	t.Cleanup(admin.Close)
	return s, admin
}

// fresh avoids keep-alive connections, so each request sees the instance's
// current state the way a new client would.
var fresh = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := fresh.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("GET %s: %d %q is not JSON", url, resp.StatusCode, raw)
	}
	return resp.StatusCode, body
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := fresh.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func lvq(s *urs.Service, i int, vq, aqt string) string {
	return "http://" + s.Addrs()[i] + "/urs/call/max/lvq/" + vq + "?tenant=Environment&aqt=" + aqt
}

func TestLVQ(t *testing.T) {
	s, admin := start(t)
	for _, tc := range []struct {
		vq, aqt        string
		ewt, pos, wpos float64
	}{
		{"VQ_Sales", "urs", 42.5, 3, 3},
		{"VQ_Sales", "urs2", 50, 3, 3},
		{"VQ_Weighted", "", 10, 4, 2},
		{"VQ_NoAgents", "urs2", -1, 1, 1},
	} {
		code, body := get(t, lvq(s, 0, tc.vq, tc.aqt))
		if code != http.StatusOK || body["ewt"] != tc.ewt || body["pos"] != tc.pos || body["wpos"] != tc.wpos {
			t.Errorf("%s aqt=%s: %d %v", tc.vq, tc.aqt, code, body)
		}
	}
	if code, _ := get(t, lvq(s, 1, "VQ_Unknown", "urs")); code != http.StatusNotFound {
		t.Errorf("unknown VQ: %d", code)
	}

	var calls urs.Calls
	_, raw := get(t, admin.URL+"/sim/urs/calls")
	remarshal(t, raw, &calls)
	if calls.Total != 5 || calls.ByQueue["VQ_Sales"] != 2 || calls.ByQueue["VQ_Unknown"] != 1 ||
		calls.Instances[0].Total != 4 || calls.Instances[1].Total != 1 || !calls.Instances[1].Up {
		t.Errorf("calls = %+v", calls)
	}

	code, _ := post(t, admin.URL+"/sim/urs/config", `{"queues":{"VQ_Sales":{"ewt":7,"position":1},"VQ_NoAgents":null,"VQ_New":{"ewt":1,"position":0}}}`)
	if code != http.StatusOK {
		t.Fatalf("config: %d", code)
	}
	if _, body := get(t, lvq(s, 0, "VQ_Sales", "urs2")); body["ewt"] != 7.0 {
		t.Errorf("patched VQ_Sales: %v", body)
	}
	if code, _ := get(t, lvq(s, 0, "VQ_NoAgents", "")); code != http.StatusNotFound {
		t.Errorf("deleted VQ: %d", code)
	}
	if code, _ := get(t, lvq(s, 1, "VQ_New", "")); code != http.StatusOK {
		t.Errorf("new VQ: %d", code)
	}
	if code, _ := post(t, admin.URL+"/sim/urs/config", `{"queues":{"X":{"position":-1}}}`); code != http.StatusBadRequest {
		t.Errorf("bad queue accepted: %d", code)
	}
	if code, _ := post(t, admin.URL+"/sim/urs/config", `{"queue":{}}`); code != http.StatusBadRequest {
		t.Errorf("misspelt field accepted: %d", code)
	}
	req, _ := http.NewRequest(http.MethodDelete, admin.URL+"/sim/urs/calls", nil)
	resp, err := fresh.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := s.Calls(); c.Total != 0 || c.Instances[0].Total != 0 {
		t.Errorf("after reset: %+v", c)
	}
}

func TestDownAndUp(t *testing.T) {
	s, admin := start(t)
	health := func(i int) (int, error) {
		resp, err := fresh.Get("http://" + s.Addrs()[i] + "/urs/health")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, mode := range []string{"", "?mode=503", "?mode=close", "?mode=refuse"} {
		if code, body := post(t, admin.URL+"/sim/urs/0/down"+mode, ""); code != http.StatusOK || body["up"] != false {
			t.Fatalf("down%s: %d %v", mode, code, body)
		}
		code, err := health(0)
		switch mode {
		case "", "?mode=503":
			if err != nil || code != http.StatusServiceUnavailable {
				t.Errorf("down%s: %d %v", mode, code, err)
			}
		default:
			if err == nil {
				t.Errorf("down%s: answered %d", mode, code)
			}
		}
		if code, err := health(1); err != nil || code != http.StatusOK {
			t.Errorf("other instance while 0 is down%s: %d %v", mode, code, err)
		}
		if code, body := post(t, admin.URL+"/sim/urs/0/up", ""); code != http.StatusOK || body["up"] != true {
			t.Fatalf("up after %s: %d %v", mode, code, body)
		}
		if code, err := health(0); err != nil || code != http.StatusOK {
			t.Errorf("up after down%s: %d %v", mode, code, err)
		}
	}
	if code, _ := get(t, lvq(s, 0, "VQ_Sales", "")); code != http.StatusOK {
		t.Errorf("lvq after the cycle: %d", code)
	}
	if code, _ := post(t, admin.URL+"/sim/urs/2/down", ""); code != http.StatusNotFound {
		t.Errorf("instance 2: %d", code)
	}
	if code, _ := post(t, admin.URL+"/sim/urs/1/down?mode=slow", ""); code != http.StatusBadRequest {
		t.Errorf("bad mode: %d", code)
	}
	// Leave one instance refusing: Close must still stop cleanly.
	if err := s.SetDown(1, urs.ModeRefuse); err != nil {
		t.Fatal(err)
	}
}

func TestDelay(t *testing.T) {
	s, _ := start(t)
	quick := &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := quick.Get(lvq(s, 0, "VQ_Slow", "")); err == nil {
		t.Error("a slow queue answered within 100ms")
	}
	began := time.Now()
	if code, _ := get(t, lvq(s, 0, "VQ_Slow", "")); code != http.StatusOK || time.Since(began) < 300*time.Millisecond {
		t.Errorf("slow queue: %d after %v", code, time.Since(began))
	}
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}
