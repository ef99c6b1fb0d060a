package ors

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// Entry is one session-start request read from the Voice Redis stream.
type Entry struct {
	StreamID    string
	CCID        string
	CallbackID  string
	Attempt     string
	ServiceName string
	UpdateURL   string
	Params      map[string]any
}

type payload struct {
	CallbackID  string         `json:"callbackId"`
	CCID        string         `json:"ccid"`
	ServiceName string         `json:"serviceName"`
	Params      map[string]any `json:"params"`
}

// ParseEntry reads the flat string fields of a stream entry. The payload is
// decoded leniently: GES may add fields an ORS application ignores.
func ParseEntry(id string, values map[string]any) (Entry, error) {
	str := func(k string) string { s, _ := values[k].(string); return s }
	e := Entry{StreamID: id, CCID: str("ccid"), CallbackID: str("callbackId"), Attempt: str("attempt")}
	if t := str("type"); t != "callback.start" {
		return e, fmt.Errorf("entry type %q is not callback.start", t)
	}
	var p payload
	if err := json.Unmarshal([]byte(str("payload")), &p); err != nil {
		return e, fmt.Errorf("payload: %w", err)
	}
	if e.CCID == "" {
		e.CCID = p.CCID
	}
	if e.CallbackID == "" {
		e.CallbackID = p.CallbackID
	}
	e.ServiceName, e.Params = p.ServiceName, p.Params
	if e.ServiceName == "" {
		e.ServiceName, _ = p.Params["_service_name"].(string)
	}
	e.UpdateURL, _ = p.Params["_callback_update_url"].(string)
	switch {
	case e.CCID == "":
		return e, errors.New("entry has no ccid")
	case e.UpdateURL == "":
		return e, errors.New("payload has no params._callback_update_url")
	}
	if u, err := url.Parse(e.UpdateURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return e, fmt.Errorf("params._callback_update_url %q is not an http URL", e.UpdateURL)
	}
	return e, nil
}
