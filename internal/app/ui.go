package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/config"
	"github.com/gesgo/ges/internal/discovery"
	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/httpapi"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/principal"
	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/settings"
	"github.com/gesgo/ges/internal/ui"
)

// withUI builds the Callback UI and makes the external API report its
// errors to the UI's error log (Developer tab).
func withUI(cfg *config.Config, rdb redis.UniversalClient, pool *pgxpool.Pool, durable *pgstore.Store, deps *httpapi.Deps, pub *settings.Publisher, env *gws.Environment, pools []*discovery.Pool) *ui.UI {
	d := ui.Deps{
		Sessions: redisstore.NewSessions(rdb), Clock: deps.Callbacks.Clock,
		Callbacks: deps.Callbacks, Settings: pub.Registry(), Tenants: env, Pauses: deps.Pauses, Numbers: deps.Numbers,
		History:     durable.History,
		Credentials: deps.Credentials, CredentialChecks: deps.CredentialChecks, Callin: deps.Callin,
		AuthURL: cfg.GWS.AuthURL, PublicAuthURL: cfg.GWS.PublicAuthURL, ConfURL: cfg.GWS.ConfURL,
		ClientID: cfg.GWS.ClientID, ClientSecret: cfg.GWS.ClientSecret,
		DevOpsUsername: cfg.UIDevOpsUsername, DevOpsPassword: cfg.UIDevOpsPassword, DevOpsGroups: cfg.DevOpsAccessGroups,
		SessionTimeout: cfg.UISessionTimeout, SessionLifetime: cfg.UISessionLifetime,
		PublicURL: cfg.UIPublicURL,
		Refetch:   pub.Refetch,
	}
	// The sign-in tokens are signed with a key derived from the
	// deployment's secrets, the same on every node.
	if k := credentialsKey(cfg); k != "" {
		d.LoginSecret = []byte(k)
	} else {
		slog.Warn("no CREDENTIALS-KEY, DECRYPT_PASSWORD or GWS client secret: Callback UI sign-ins are signed with a key of this node only")
	}
	if pool != nil {
		d.APIErrors = apiErrors{pgstore.NewUIErrors(pool)}
		d.Grid = grid{pgstore.NewUIGrid(pool)}
		d.StateHours = stateHours(pgstore.NewUICharts(pool))
	}
	if deps.URS != nil {
		d.Waits = deps.URS
	}
	if len(pools) > 0 {
		d.Nodes = func() []discovery.Snapshot {
			out := make([]discovery.Snapshot, len(pools))
			for i, p := range pools {
				out[i] = p.Snapshot()
			}
			return out
		}
	}
	if cfg.GWS.ConfURL != "" {
		d.Permissions = gws.NewConfiguration(cfg.GWS.ConfURL, cfg.GWS.AuthURL, cfg.GWS.ClientID, cfg.GWS.ClientSecret)
	}
	u := ui.New(d)
	deps.ErrorLog = func(_ context.Context, e httpapi.APIError) { u.Errors.Record(ui.APIError(e)) }
	return u
}

// admins authenticates the callers of the admin APIs: Callback UI
// sessions, and the deployment's service tokens (docs/decisions.md).
func admins(cfg *config.Config, u *ui.UI) *principal.Authenticator {
	return &principal.Authenticator{Sessions: u, Tokens: []principal.Token{
		{Name: "designer", Secret: cfg.DesignerAPIToken, Actions: []principal.Action{principal.PublishTables, principal.ReadTables}},
		{Name: "admin", Secret: cfg.AdminAPIToken, Actions: principal.Every},
	}}
}

// apiErrors serves the UI's error log from Postgres: the store has its own
// row type, as it does not depend on the HTTP layer.
type apiErrors struct{ *pgstore.UIErrors }

func (s apiErrors) Add(ctx context.Context, batch []ui.APIError) error {
	rows := make([]pgstore.APIError, len(batch))
	for i, e := range batch {
		rows[i] = pgstore.APIError(e)
	}
	return s.UIErrors.Add(ctx, rows)
}

func (s apiErrors) Search(ctx context.Context, tenant, corrID string, since time.Time, limit int) ([]ui.APIError, error) {
	rows, err := s.UIErrors.Search(ctx, tenant, corrID, since, limit)
	if err != nil {
		return nil, err
	}
	out := make([]ui.APIError, len(rows))
	for i, r := range rows {
		out[i] = ui.APIError(r)
	}
	return out, nil
}

// grid serves the UI's callback grid from Postgres.
type grid struct{ *pgstore.UIGrid }

func (g grid) Find(ctx context.Context, tenant string, q ui.GridQuery, offset, limit int) ([]string, int, error) {
	return g.UIGrid.Find(ctx, tenant, pgstore.GridFilter(q), offset, limit)
}

// stateHours serves the Queues page's state chart from Postgres.
func stateHours(c *pgstore.UICharts) func(ctx context.Context, tenant string, services []string, since time.Time) ([]ui.StateHour, error) {
	return func(ctx context.Context, tenant string, services []string, since time.Time) ([]ui.StateHour, error) {
		rows, err := c.StateHours(ctx, tenant, services, since)
		if err != nil {
			return nil, err
		}
		out := make([]ui.StateHour, len(rows))
		for i, r := range rows {
			out[i] = ui.StateHour(r)
		}
		return out, nil
	}
}
