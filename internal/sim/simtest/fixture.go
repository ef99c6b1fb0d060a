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

// PlatformFixture is DemoFixture plus every optional section: URS queues,
// statistics, users and access groups, FCM and reCAPTCHA.
const PlatformFixture = `{
  "contactCenters": [
    {"id": "` + DemoCCID + `", "name": "Demo",
     "apiKeys": ["demo-api-key-0001"],
     "tables": {"CALLBACK_SETTINGS": [
        {"key": "Callback_Sales", "columns": {"Time Zone": "America/New_York", "Max Callbacks Per Phone Number": "2", "Route Point": "8999"}}
     ]}}
  ],
  "clients": [{"id": "ges-client", "secret": "ges-secret"},
              {"id": "ges-ui", "secret": "ges-ui-secret"}],
  "ors": {"streamName": "NewCallbackStream", "consumerGroup": "ors",
          "queuedMs": 20, "routingMs": 20, "processingMs": 20,
          "failureRate": 0.0, "failureReason": "FAIL_CALL_TO_CUSTOMER", "seed": 1},
  "urs": {"queues": {"VQ_Sales": {"ewt": 42, "position": 3},
                     "VQ_NoAgents": {"noAgents": true}}},
  "statistics": {"values": [
    {"name": "CurrentNumberWaitingCalls", "objectId": "VQ_Sales", "objectType": "Queue", "value": 4}]},
  "users": [
    {"username": "admin", "password": "admin-pw", "name": "Callback Admin", "accessGroups": ["Callback Administrators"], "ccid": "` + DemoCCID + `"},
    {"username": "monitor", "password": "monitor-pw", "name": "Sales Monitor", "accessGroups": ["Sales Monitors"], "ccid": "` + DemoCCID + `"}],
  "accessGroups": [
    {"name": "Callback Administrators", "readScripts": ["*"], "roles": ["Callback Administrator"]},
    {"name": "Sales Monitors", "readScripts": ["Callback_Sales"], "roles": ["Callback Monitor"]}],
  "fcm": {"projects": ["ges-demo"], "unregisteredTokens": ["dead-device"]},
  "captcha": {"secret": "captcha-secret"}
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
