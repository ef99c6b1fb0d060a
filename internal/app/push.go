package app

import (
	"context"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/config"
	"github.com/gesgo/ges/internal/credentials"
	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/httpapi"
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/push"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/voice"
)

// withPush adds push notifications: the FCM credentials check, the sender
// on the tenant's service account, and the notifier, which follows ORS
// reports (the callback service's Reported hook) and checks callbacks in
// queue every PUSH_CHECK_SECONDS. Run the returned notifier as a loop.
func withPush(cfg *config.Config, svc *callback.Service, deps *httpapi.Deps, creds *credentials.Store,
	registry *settings.Registry, durable *pgstore.Store, urs *voice.URS, env *gws.Environment, m *metrics.Metrics) *push.Notifier {
	if deps.CredentialChecks == nil {
		deps.CredentialChecks = map[string]func([]byte) error{}
	}
	deps.CredentialChecks[credentials.FCM] = push.CheckCredentials
	n := &push.Notifier{
		Callbacks:  svc,
		Settings:   registry,
		Sender:     &push.FCM{Credentials: creds, Endpoint: cfg.Platform.FCMURL},
		Tables:     registry.All,
		Candidates: durable.PushCandidates,
		Interval:   time.Duration(cfg.Platform.PushCheckSeconds) * time.Second,
		Clock:      svc.Clock,
		Sent: func(tenant, channel string, ok bool) {
			result := "failure"
			if ok {
				result = "success"
			}
			m.PushSent.WithLabelValues(tenant, channel, result).Inc()
		},
		Unreachable: func() { m.Alert(metrics.NexusAccessFailure) },
	}
	if urs != nil {
		n.Estimate = func(ctx context.Context, tenant, vq string) (int, bool) {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			name := ""
			if t, err := env.ByID(ctx, tenant); err == nil {
				name = t.Name
			}
			e, err := urs.LVQ(ctx, name, vq, voice.AQT["mode2"])
			if err != nil || e.NoAgents || e.EWT < 0 {
				return -1, false
			}
			return e.EWT, true
		}
	}
	svc.Reported = n.Reported
	return n
}
