package designer_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gesgo/ges/internal/sim/designer"
	"github.com/gesgo/ges/internal/sim/fixture"
)

const ccid = "9e0c6b1e-2f3a-4b5c-8d7e-1f2a3b4c5d6e"

func demo(t *testing.T) fixture.ContactCenter {
	fx, err := fixture.Parse([]byte(`{"contactCenters":[{"id":"` + ccid + `","name":"Demo","tables":{
		"ZZZ":[{"key":"z","columns":{}}],
		"CALLBACK_SETTINGS":[
			{"key":"Callback_Sales","columns":{"Time Zone":"America/New_York","Max Callbacks Per Phone Number":"2","Route Point":"8999"}},
			{"key":"Callback_Billing","columns":{"Enabled":true,"Slots":5}}]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return fx.ContactCenters[0]
}

func TestPublishTableSendsRowsInFixtureOrder(t *testing.T) {
	var gotPath, gotCCID, gotType string
	var got map[string]any
	ges := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			t.Errorf("method %s", r.Method)
		}
		gotPath, gotCCID, gotType = r.URL.Path, r.Header.Get("ContactCenterId"), r.Header.Get("Content-Type")
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &got)
		_, _ = w.Write([]byte(`{"rows":2}`))
	}))
	defer ges.Close()

	res, err := designer.PublishTable(context.Background(), ges.Client(), ges.URL+"/", demo(t), designer.SettingsTable)
	if err != nil || !res.OK() || string(res.Body) != `{"rows":2}` {
		t.Fatalf("publish = %+v, %v", res, err)
	}
	if gotPath != "/ges/v1/datatables/CALLBACK_SETTINGS" || gotCCID != ccid || gotType != "application/json" {
		t.Fatalf("path %q ccid %q type %q", gotPath, gotCCID, gotType)
	}
	want := map[string]any{"table": "CALLBACK_SETTINGS", "rows": []any{
		map[string]any{"key": "Callback_Sales", "columns": map[string]any{
			"Time Zone": "America/New_York", "Max Callbacks Per Phone Number": "2", "Route Point": "8999"}},
		map[string]any{"key": "Callback_Billing", "columns": map[string]any{"Enabled": true, "Slots": float64(5)}},
	}}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("body\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

func TestTableNamesPutSettingsFirst(t *testing.T) {
	if got := designer.TableNames(demo(t)); len(got) != 2 || got[0] != "CALLBACK_SETTINGS" || got[1] != "ZZZ" {
		t.Fatalf("TableNames = %v", got)
	}
}

func TestPublishAllStopsAtRefusal(t *testing.T) {
	ges := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"exception":"BadRequest","message":"bad table"}`))
	}))
	defer ges.Close()
	res, err := designer.PublishAll(context.Background(), ges.Client(), ges.URL, demo(t))
	if err != nil || len(res) != 1 || res[0].OK() || res[0].Status != http.StatusBadRequest {
		t.Fatalf("PublishAll = %+v, %v", res, err)
	}
}

func TestPublishUntilAcceptedWaitsForGES(t *testing.T) {
	var calls atomic.Int32
	ges := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer ges.Close()
	cc := demo(t)
	delete(cc.Tables, "ZZZ")
	err := designer.PublishUntilAccepted(context.Background(), ges.Client(), ges.URL, []fixture.ContactCenter{cc},
		designer.Retry{Every: 10 * time.Millisecond, For: 5 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil || calls.Load() != 3 {
		t.Fatalf("err %v after %d calls", err, calls.Load())
	}

	calls.Store(-1000) // always refuse from now on
	err = designer.PublishUntilAccepted(context.Background(), ges.Client(), ges.URL, []fixture.ContactCenter{cc},
		designer.Retry{Every: 10 * time.Millisecond, For: 50 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("gave up without an error")
	}
}
