package ors_test

import (
	"testing"

	"github.com/gesgo/ges/internal/sim/ors"
)

func TestParseEntry(t *testing.T) {
	payload := `{"callbackId":"cb","ccid":"cc","serviceName":"Svc","params":{"_callback_update_url":"http://ges:3050/genesys/1/service/callback/Svc/cb","_service_name":"Svc"}}`
	e, err := ors.ParseEntry("1-0", map[string]any{"type": "callback.start", "version": "1", "ccid": "cc",
		"callbackId": "cb", "attempt": "2", "payload": payload})
	if err != nil {
		t.Fatal(err)
	}
	if e.StreamID != "1-0" || e.CCID != "cc" || e.CallbackID != "cb" || e.Attempt != "2" || e.ServiceName != "Svc" ||
		e.UpdateURL != "http://ges:3050/genesys/1/service/callback/Svc/cb" {
		t.Fatalf("entry = %+v", e)
	}
	for name, values := range map[string]map[string]any{
		"wrong type":  {"type": "callback.stop", "ccid": "cc", "payload": payload},
		"bad payload": {"type": "callback.start", "ccid": "cc", "payload": "{"},
		"no url":      {"type": "callback.start", "ccid": "cc", "payload": `{"params":{}}`},
		"no ccid":     {"type": "callback.start", "payload": `{"params":{"_callback_update_url":"http://x/"}}`},
		"not http":    {"type": "callback.start", "ccid": "cc", "payload": `{"params":{"_callback_update_url":"ftp://x/"}}`},
	} {
		if _, err := ors.ParseEntry("1-0", values); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
