package simtest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Callback describes a session-start entry as GES writes it.
type Callback struct {
	Stream      string // default NewCallbackStream
	CCID        string
	CallbackID  string
	ServiceName string
	Attempt     string // default "1"
	UpdateURL   string // params._callback_update_url
}

// XAddCallback writes the entry to the stream and returns its id.
func XAddCallback(t testing.TB, rdb *redis.Client, c Callback) string {
	t.Helper()
	if c.Stream == "" {
		c.Stream = "NewCallbackStream"
	}
	if c.Attempt == "" {
		c.Attempt = "1"
	}
	payload, err := json.Marshal(map[string]any{
		"callbackId":  c.CallbackID,
		"ccid":        c.CCID,
		"tenant":      "Environment",
		"serviceName": c.ServiceName,
		"params": map[string]string{
			"_id":                  c.CallbackID,
			"_service_name":        c.ServiceName,
			"_customer_number":     "+15551234567",
			"_callback_state":      "QUEUED",
			"_callback_update_url": c.UpdateURL,
		},
		"userData": map[string]string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: c.Stream, Values: []string{
		"type", "callback.start", "version", "1", "ccid", c.CCID, "callbackId", c.CallbackID,
		"attempt", c.Attempt, "payload", string(payload),
	}}).Result()
	if err != nil {
		t.Fatalf("XADD: %v", err)
	}
	return id
}
