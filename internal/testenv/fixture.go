package testenv

import (
	"encoding/json"
	"os"

	"github.com/gesgo/ges/internal/sim/fixture"
)

// Identities of DefaultFixture, for tests to refer to.
const (
	DemoContactCenterID  = "3c3d5a3e-6f0b-4c1e-9a57-1d2c0b7e8f01"
	DemoAPIKey           = "demo-api-key-0001"
	OtherContactCenterID = "7b2e4f19-0d8a-4c63-b5e1-2f9a6c4d8e02"
	OtherAPIKey          = "other-api-key-0001"
	ClientID             = "ges-client"
	ClientSecret         = "ges-secret"

	CallbackSettings = "CALLBACK_SETTINGS" // the Designer table GES reads services from

	// Service tokens every node is started with (DESIGNER-API-TOKEN,
	// ADMIN-API-TOKEN). Node.Internal presents AdminToken on the admin
	// APIs under /ges/v1; gessim publishes with DesignerToken.
	DesignerToken = "testenv-designer-token-0123456789abcdef"
	AdminToken    = "testenv-admin-token-0123456789abcdef0123"
)

// Fixture is the gessim fixture file: tenants with their API keys and Designer
// tables, OAuth clients, and how the simulated ORS plays callbacks.
type Fixture struct {
	ContactCenters []ContactCenter `json:"contactCenters"`
	Clients        []Client        `json:"clients"`
	ORS            ORS             `json:"ors"`

	URS          fixture.URS           `json:"urs,omitzero"`
	Statistics   fixture.Statistics    `json:"statistics,omitzero"`
	Users        []fixture.User        `json:"users,omitempty"`
	AccessGroups []fixture.AccessGroup `json:"accessGroups,omitempty"`
	FCM          fixture.FCM           `json:"fcm,omitzero"`
	Captcha      fixture.Captcha       `json:"captcha,omitzero"`
}

// ContactCenter is one tenant. Tables maps a Designer table name (for example
// CALLBACK_SETTINGS) to its rows.
type ContactCenter struct {
	ID      string                `json:"id"`
	Name    string                `json:"name"`
	APIKeys []string              `json:"apiKeys"`
	Tables  map[string][]TableRow `json:"tables"`
}

// TableRow is one row of a Designer table: its key (the service name in
// CALLBACK_SETTINGS) and column header → value.
type TableRow struct {
	Key     string            `json:"key"`
	Columns map[string]string `json:"columns"`
}

// Client and ORS are the simulator's own types: the harness writes the
// same file gessim reads.
type (
	Client = fixture.Client
	ORS    = fixture.ORS
)

// DefaultFixture returns a fresh fixture with two tenants, Demo and Other,
// each with the services Callback_Sales (UTC) and Callback_Support
// (America/New_York), the ges-client OAuth client, and 200 ms ORS steps.
func DefaultFixture() *Fixture {
	services := func() map[string][]TableRow {
		return map[string][]TableRow{CallbackSettings: {
			{Key: "Callback_Sales", Columns: map[string]string{"Time Zone": "UTC", "Route Point": "8999"}},
			{Key: "Callback_Support", Columns: map[string]string{"Time Zone": "America/New_York", "Route Point": "8998"}},
		}}
	}
	return &Fixture{
		ContactCenters: []ContactCenter{
			{ID: DemoContactCenterID, Name: "Demo", APIKeys: []string{DemoAPIKey}, Tables: services()},
			{ID: OtherContactCenterID, Name: "Other", APIKeys: []string{OtherAPIKey}, Tables: services()},
		},
		Clients: []Client{{ID: ClientID, Secret: ClientSecret}},
		ORS: ORS{
			StreamName:    "NewCallbackStream",
			ConsumerGroup: "ors",
			QueuedMs:      200,
			RoutingMs:     200,
			ProcessingMs:  200,
			FailureRate:   0,
			FailureReason: "FAIL_CALL_TO_CUSTOMER",
			Seed:          1,
		},
		URS: fixture.URS{Queues: map[string]fixture.URSQueue{
			"Callback_Sales":   {EWT: 42, Position: 3},
			"Callback_Support": {NoAgents: true},
		}},
		Statistics: fixture.Statistics{Values: []fixture.StatValue{
			{Name: "CurrentNumberWaitingCalls", ObjectID: "Callback_Sales", ObjectType: "Queue", Value: []byte("4")},
		}},
		Users: []fixture.User{
			{Username: "admin", Password: "admin-pw", Name: "Ada Admin", AccessGroups: []string{"Callback Administrators"}, CCID: DemoContactCenterID},
			{Username: "supervisor", Password: "supervisor-pw", Name: "Sam Supervisor", AccessGroups: []string{"Callback Supervisors"}, CCID: DemoContactCenterID},
			{Username: "monitor", Password: "monitor-pw", Name: "Mo Monitor", AccessGroups: []string{"Sales Monitors"}, CCID: DemoContactCenterID},
			{Username: "developer", Password: "developer-pw", Name: "Dev Developer", AccessGroups: []string{"Callback Developers"}, CCID: DemoContactCenterID},
		},
		AccessGroups: []fixture.AccessGroup{
			{Name: "Callback Administrators", ReadScripts: []string{"*"}, Roles: []string{"Callback Administrator"}},
			{Name: "Callback Supervisors", ReadScripts: []string{"*"}, Roles: []string{"Callback Supervisor"}},
			{Name: "Sales Monitors", ReadScripts: []string{"Callback_Sales"}, Roles: []string{"Callback Monitor"}},
			{Name: "Callback Developers", ReadScripts: []string{"*"}, Roles: []string{"Callback Developer"}},
		},
		FCM:     fixture.FCM{Projects: []string{"ges-demo"}},
		Captcha: fixture.Captcha{Secret: CaptchaSecret},
	}
}

// CaptchaSecret is the reCAPTCHA secret of DefaultFixture.
const CaptchaSecret = "captcha-secret"

// Clone returns a deep copy.
func (f *Fixture) Clone() *Fixture {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	var c Fixture
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// ContactCenter returns the tenant with the given name, or nil.
func (f *Fixture) ContactCenter(name string) *ContactCenter {
	for i := range f.ContactCenters {
		if f.ContactCenters[i].Name == name {
			return &f.ContactCenters[i]
		}
	}
	return nil
}

// Service returns the CALLBACK_SETTINGS row of a service, or nil.
func (c *ContactCenter) Service(name string) *TableRow {
	rows := c.Tables[CallbackSettings]
	for i := range rows {
		if rows[i].Key == name {
			return &rows[i]
		}
	}
	return nil
}

// SetSetting sets one CALLBACK_SETTINGS column of a service, adding the
// service row if it does not exist.
func (c *ContactCenter) SetSetting(service, column, value string) {
	if row := c.Service(service); row != nil {
		if row.Columns == nil {
			row.Columns = map[string]string{}
		}
		row.Columns[column] = value
		return
	}
	if c.Tables == nil {
		c.Tables = map[string][]TableRow{}
	}
	c.Tables[CallbackSettings] = append(c.Tables[CallbackSettings],
		TableRow{Key: service, Columns: map[string]string{column: value}})
}

// WriteFile writes the fixture as JSON to path.
func (f *Fixture) WriteFile(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
