package simtest

import (
	"os"
	"path/filepath"
	"testing"
)

// DemoCCID is the contact center of DemoFixture.
const DemoCCID = "9e0c6b1e-2f3a-4b5c-8d7e-1f2a3b4c5d6e"

// DemoFixture is a small world with one contact center and fast sessions.
const DemoFixture = `{
  "contactCenters": [
    {"id": "` + DemoCCID + `", "name": "Demo",
     "apiKeys": ["demo-api-key-0001"],
     "tables": {"CALLBACK_SETTINGS": [
        {"key": "Callback_Sales", "columns": {"Time Zone": "America/New_York", "Max Callbacks Per Phone Number": "2", "Route Point": "8999"}}
     ]}}
  ],
  "clients": [{"id": "ges-client", "secret": "ges-secret"}],
  "ors": {"streamName": "NewCallbackStream", "consumerGroup": "ors",
          "queuedMs": 20, "routingMs": 20, "processingMs": 20,
          "failureRate": 0.0, "failureReason": "FAIL_CALL_TO_CUSTOMER", "seed": 1}
}`

// WriteFixture writes doc to a temporary file and returns its path.
func WriteFixture(t testing.TB, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
