package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// CountDNS moves GES_DNS_FAILURE when err is a name-resolution failure:
// the usual sign of a wrong host name in the configuration.
func (m *Metrics) CountDNS(err error) {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		m.Alert(DNSFailure)
	}
}

// Transport wraps the transport of a dependency's HTTP client so that its
// DNS failures are counted.
func (m *Metrics) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return dnsTransport{base: base, m: m}
}

type dnsTransport struct {
	base http.RoundTripper
	m    *Metrics
}

func (t dnsTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		t.m.CountDNS(err)
	}
	return resp, err
}

// Dial dials like net.Dialer and counts DNS failures (Redis, Postgres).
func (m *Metrics) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		m.CountDNS(err)
	}
	return c, err
}
