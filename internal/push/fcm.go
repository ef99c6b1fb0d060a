// Package push sends the push notifications of callbacks that carry push
// targets: CALLBACK_UPCOMING when the wait falls below the service's
// threshold, CALLBACK_CONNECT when a customer-originated callback's turn has
// come. Messages go through Firebase Cloud Messaging (HTTP v1) with the
// tenant's service account, stored sealed in the credentials store.
package push

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/gesgo/ges/internal/credentials"
)

// DefaultEndpoint is Google's FCM HTTP v1 endpoint (FCM_URL).
const DefaultEndpoint = "https://fcm.googleapis.com/v1"

// Channel is the only push channel GES supports.
const Channel = "FCM"

// Message is one data message to one device.
type Message struct {
	Token string
	Data  map[string]string
}

// Sender delivers messages with a tenant's push credentials.
type Sender interface {
	Send(ctx context.Context, tenant string, m Message) error
}

// ErrNotConfigured is returned when a tenant stored no FCM credentials.
var ErrNotConfigured = errors.New("no FCM credentials are stored for the tenant")

// SendError is a failed send. Unreachable is true when FCM (or its token
// endpoint) could not be reached or answered a server error, which is the
// platform's fault (NEXUS_ACCESS_FAILURE), not the tenant's.
type SendError struct {
	Unreachable bool
	Err         error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Unreachable reports whether err says FCM could not be reached.
func Unreachable(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Unreachable
}

// CredentialSource reads a tenant's stored credentials.
type CredentialSource interface {
	Get(ctx context.Context, tenant, kind string) ([]byte, time.Time, error)
}

// FCM is a Sender on the Firebase Admin SDK, one client per tenant, rebuilt
// when the tenant stores new credentials.
type FCM struct {
	Credentials CredentialSource
	// Endpoint is the FCM API base (FCM_URL), DefaultEndpoint when empty.
	Endpoint string

	mu      sync.Mutex
	clients map[string]tenantClient
}

type tenantClient struct {
	stored time.Time
	client *messaging.Client
}

// Send sends one data message to one registration token.
func (f *FCM) Send(ctx context.Context, tenant string, m Message) error {
	c, err := f.client(ctx, tenant)
	if err != nil {
		return err
	}
	_, err = c.Send(ctx, &messaging.Message{
		Token:   m.Token,
		Data:    m.Data,
		Android: &messaging.AndroidConfig{Priority: "high"},
	})
	if err != nil {
		return &SendError{Unreachable: unreachable(err), Err: err}
	}
	return nil
}

func (f *FCM) client(ctx context.Context, tenant string) (*messaging.Client, error) {
	if f.Credentials == nil {
		return nil, &SendError{Err: ErrNotConfigured}
	}
	raw, stored, err := f.Credentials.Get(ctx, tenant, credentials.FCM)
	if errors.Is(err, credentials.ErrNotFound) {
		return nil, &SendError{Err: ErrNotConfigured}
	}
	if err != nil {
		return nil, &SendError{Err: fmt.Errorf("reading FCM credentials: %w", err)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[tenant]; ok && c.stored.Equal(stored) {
		return c.client, nil
	}
	key, err := ParseServiceAccount(raw)
	if err != nil {
		return nil, &SendError{Err: err}
	}
	endpoint := f.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	// The client outlives this call (it caches its OAuth token), so it
	// must not depend on the caller's context.
	bg := context.Background()
	app, err := firebase.NewApp(bg, &firebase.Config{ProjectID: key.ProjectID},
		option.WithCredentialsJSON(raw), option.WithEndpoint(strings.TrimRight(endpoint, "/")))
	if err != nil {
		return nil, &SendError{Err: fmt.Errorf("FCM credentials: %w", err)}
	}
	c, err := app.Messaging(bg)
	if err != nil {
		return nil, &SendError{Err: fmt.Errorf("FCM client: %w", err)}
	}
	if f.clients == nil {
		f.clients = map[string]tenantClient{}
	}
	f.clients[tenant] = tenantClient{stored: stored, client: c}
	return c, nil
}

// unreachable classifies an SDK error: no answer or a 5xx from FCM or from
// the token endpoint is the platform's fault; a refused token (bad key) or
// a 4xx (unregistered token, wrong project, ...) is not.
func unreachable(err error) bool {
	if resp := errorutils.HTTPResponse(err); resp != nil {
		return resp.StatusCode >= 500
	}
	msg := err.Error()
	if strings.Contains(msg, "oauth2: ") {
		// The token endpoint answered: a 5xx is an outage, anything else
		// (invalid_grant, ...) a credentials problem.
		return strings.Contains(msg, "cannot fetch token: 5")
	}
	return true
}

// ServiceAccount is the part of a Google service-account key GES checks.
type ServiceAccount struct {
	Type        string `json:"type"`
	ProjectID   string `json:"project_id"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// ParseServiceAccount checks a service-account JSON key: type
// service_account (when given), project_id, client_email, an RSA
// private_key in PEM, and token_uri (optional) an absolute http(s) URL.
func ParseServiceAccount(b []byte) (*ServiceAccount, error) {
	var sa ServiceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return nil, errors.New("FCM credentials must be a Google service-account JSON key")
	}
	if sa.Type != "" && sa.Type != "service_account" {
		return nil, fmt.Errorf("FCM credentials: type must be service_account (got %q)", sa.Type)
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"project_id", sa.ProjectID}, {"client_email", sa.ClientEmail}, {"private_key", sa.PrivateKey}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("FCM credentials: %s required in the service-account key", strings.Join(missing, ", ")+pluralIs(len(missing)))
	}
	if !strings.Contains(sa.ClientEmail, "@") {
		return nil, fmt.Errorf("FCM credentials: client_email %q is not an e-mail address", sa.ClientEmail)
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return nil, errors.New("FCM credentials: private_key is not a PEM key")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if _, err1 := x509.ParsePKCS1PrivateKey(block.Bytes); err1 != nil {
			return nil, errors.New("FCM credentials: private_key is not an RSA private key (PKCS#8 or PKCS#1)")
		}
	}
	if sa.TokenURI != "" {
		u, err := url.Parse(sa.TokenURI)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("FCM credentials: token_uri %q is not an http(s) URL", sa.TokenURI)
		}
	}
	return &sa, nil
}

func pluralIs(n int) string {
	if n == 1 {
		return " is"
	}
	return " are"
}

// CheckCredentials validates FCM credentials before they are stored.
func CheckCredentials(b []byte) error {
	_, err := ParseServiceAccount(b)
	return err
}
