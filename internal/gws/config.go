package gws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// Configuration is a client of the GWS Configuration service: the script
// objects GES keeps as proxies of callback virtual queues, which access
// groups are granted read on for line-of-business segmentation.
type Configuration struct {
	base   string
	client *http.Client
	// Status is told whether each call reached a healthy service.
	Status func(ok bool)
}

// NewConfiguration returns a client of the service at confURL,
// authenticating with client credentials at authURL.
func NewConfiguration(confURL, authURL, clientID, clientSecret string) *Configuration {
	hc := &http.Client{Timeout: 5 * time.Second}
	if clientID != "" {
		cc := clientcredentials.Config{ClientID: clientID, ClientSecret: clientSecret,
			TokenURL: strings.TrimRight(authURL, "/") + "/auth/v3/oauth/token"}
		hc = cc.Client(context.WithValue(context.Background(), oauth2HTTPClient, hc))
		hc.Timeout = 5 * time.Second
	}
	return &Configuration{base: strings.TrimRight(confURL, "/"), client: hc}
}

// Script is a script object.
type Script struct {
	DBID int    `json:"dbid"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// ProxyType marks the script objects GES owns, so it never deletes a
// script somebody else created.
const ProxyType = "CallbackVQProxy"

func (c *Configuration) do(ctx context.Context, method, path, ccid string, body any, out any) (int, error) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Ccid", ccid)
	resp, err := c.client.Do(req)
	if err != nil {
		c.status(false)
		return 0, err
	}
	defer resp.Body.Close()
	c.status(resp.StatusCode < 500)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusNotFound {
		return resp.StatusCode, fmt.Errorf("GWS Configuration answered %s", resp.Status)
	}
	if out != nil && resp.StatusCode < 300 {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			return resp.StatusCode, err
		}
		return resp.StatusCode, json.Unmarshal(env.Data, out)
	}
	return resp.StatusCode, nil
}

func (c *Configuration) status(ok bool) {
	if c.Status != nil {
		c.Status(ok)
	}
}

// Scripts lists a contact center's script objects.
func (c *Configuration) Scripts(ctx context.Context, ccid string) ([]Script, error) {
	var data struct {
		Objects []Script `json:"objects"`
	}
	_, err := c.do(ctx, http.MethodGet, "/configuration/v3/objects/scripts", ccid, nil, &data)
	return data.Objects, err
}

// CreateScript creates a proxy script named name (one that exists already
// is fine).
func (c *Configuration) CreateScript(ctx context.Context, ccid, name string) error {
	_, err := c.do(ctx, http.MethodPost, "/configuration/v3/objects/scripts", ccid,
		map[string]any{"data": map[string]string{"name": name, "type": ProxyType, "folder": "Callback"}}, nil)
	return err
}

// DeleteScript deletes a script object (one already gone is fine).
func (c *Configuration) DeleteScript(ctx context.Context, ccid string, dbid int) error {
	_, err := c.do(ctx, http.MethodDelete, fmt.Sprintf("/configuration/v3/objects/scripts/%d", dbid), ccid, nil, nil)
	return err
}

// CanRead tells whether an access group may read the script of a VQ.
func (c *Configuration) CanRead(ctx context.Context, ccid, group, script string) (bool, error) {
	var data struct {
		Read bool `json:"read"`
	}
	code, err := c.do(ctx, http.MethodGet, "/configuration/v3/access-groups/"+url.PathEscape(group)+"/permissions/scripts/"+url.PathEscape(script), ccid, nil, &data)
	if code == http.StatusNotFound {
		return false, nil
	}
	return data.Read, err
}
