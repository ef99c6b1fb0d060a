// Package designer plays Genesys Designer's part towards GES: it publishes a
// contact center's data tables (CALLBACK_SETTINGS above all) to GES' internal
// API, the way Designer does when a tenant administrator saves them.
package designer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gesgo/ges/internal/sim/fixture"
)

// SettingsTable is the table GES reads its callback services from.
const SettingsTable = "CALLBACK_SETTINGS"

// Request is the body of a table publish.
type Request struct {
	Table string        `json:"table"`
	Rows  []fixture.Row `json:"rows"`
}

// Result is GES' answer to one table publish.
type Result struct {
	CCID   string
	Table  string
	Status int
	Body   []byte
}

// OK reports whether GES accepted the table.
func (r Result) OK() bool { return r.Status >= 200 && r.Status < 300 }

// TableNames lists the tables of cc in publish order: CALLBACK_SETTINGS first
// (the one GES needs), then the others by name so runs are reproducible.
func TableNames(cc fixture.ContactCenter) []string {
	names := make([]string, 0, len(cc.Tables))
	for n := range cc.Tables {
		if n != SettingsTable {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if _, ok := cc.Tables[SettingsTable]; ok {
		names = append([]string{SettingsTable}, names...)
	}
	return names
}

// TokenEnv is the environment variable holding the service token Designer
// presents to GES (GES' DESIGNER-API-TOKEN).
const TokenEnv = "DESIGNER_API_TOKEN"

// WithToken returns a client like hc that presents token as a bearer
// token on every request; an empty token leaves hc as it is.
func WithToken(hc *http.Client, token string) *http.Client {
	if token == "" {
		return hc
	}
	c := *hc
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = bearer{token: token, next: next}
	return &c
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(req)
}

// PublishTable sends one table of cc to GES at gesBase. A non-2xx answer is
// not an error: the Result carries it so the caller can print GES' message.
func PublishTable(ctx context.Context, hc *http.Client, gesBase string, cc fixture.ContactCenter, table string) (Result, error) {
	rows := cc.Tables[table]
	if rows == nil {
		rows = []fixture.Row{}
	}
	body, err := json.Marshal(Request{Table: table, Rows: rows})
	if err != nil {
		return Result{}, err
	}
	u := strings.TrimRight(gesBase, "/") + "/ges/v1/datatables/" + url.PathEscape(table)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("ContactCenterId", cc.ID)
	resp, err := hc.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("publish %s/%s: %w", cc.ID, table, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Result{}, fmt.Errorf("publish %s/%s: reading answer: %w", cc.ID, table, err)
	}
	return Result{CCID: cc.ID, Table: table, Status: resp.StatusCode, Body: answer}, nil
}

// PublishAll sends every table of cc and stops at the first refusal or error.
func PublishAll(ctx context.Context, hc *http.Client, gesBase string, cc fixture.ContactCenter) ([]Result, error) {
	var out []Result
	for _, t := range TableNames(cc) {
		res, err := PublishTable(ctx, hc, gesBase, cc, t)
		if err != nil {
			return out, err
		}
		out = append(out, res)
		if !res.OK() {
			return out, nil
		}
	}
	return out, nil
}
