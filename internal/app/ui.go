package app

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/config"
	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/httpapi"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/ui"
)

// withUI builds the Callback UI and makes the external API report its
// errors to the UI's error log (Developer tab).
func withUI(cfg *config.Config, rdb redis.UniversalClient, pool *pgxpool.Pool, deps *httpapi.Deps, pub *publisher, env *gws.Environment) *ui.UI {
	d := ui.Deps{
		Redis: rdb, Pool: pool, Callbacks: deps.Callbacks, Settings: pub.registry, Tenants: env,
		History:     pub.durable.History,
		Credentials: deps.Credentials, CredentialChecks: deps.CredentialChecks, Callin: deps.Callin,
		AuthURL: cfg.GWS.AuthURL, PublicAuthURL: cfg.GWS.PublicAuthURL, ConfURL: cfg.GWS.ConfURL,
		ClientID: cfg.GWS.ClientID, ClientSecret: cfg.GWS.ClientSecret,
		DevOpsUsername: cfg.UIDevOpsUsername, DevOpsPassword: cfg.UIDevOpsPassword, DevOpsGroups: cfg.DevOpsAccessGroups,
		SessionTimeout: cfg.UISessionTimeout,
		Refetch: func(ctx context.Context, tenant string) error {
			st, err := pub.durable.Table(ctx, tenant, settings.TableName)
			if err != nil {
				return err
			}
			if st != nil {
				pub.install(st)
			}
			// The VQ proxies are checked again even when the table did
			// not change: that is what a refetch is asked for.
			pub.notify()
			return nil
		},
	}
	if cfg.GWS.ConfURL != "" {
		d.Permissions = gws.NewConfiguration(cfg.GWS.ConfURL, cfg.GWS.AuthURL, cfg.GWS.ClientID, cfg.GWS.ClientSecret)
	}
	u := ui.New(d)
	deps.ErrorLog = func(_ context.Context, e httpapi.APIError) { u.Errors.Record(ui.APIError(e)) }
	return u
}
