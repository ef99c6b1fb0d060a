package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/pgstore"
	"github.com/gesgo/ges/internal/redisstore"
	"github.com/gesgo/ges/internal/settings"
)

// publisher applies Designer publishes: validate the whole table, store it
// in Postgres, install it here and tell every other node to reload it.
type publisher struct {
	durable  *pgstore.Store
	hot      *redisstore.Store
	registry *settings.Registry
	clock    clock.Clock
	// changed is told that a tenant's table changed (line-of-business
	// objects follow the table).
	changed func()
}

func (p *publisher) Publish(ctx context.Context, tenant, name string, rows []settings.Row) (*settings.Table, error) {
	if _, err := settings.Parse(name, 0, rows); err != nil {
		return nil, err
	}
	version, err := p.durable.PublishTable(ctx, tenant, name, rows, p.clock.Now())
	if err != nil {
		return nil, err
	}
	t, err := settings.Parse(name, version, rows)
	if err != nil {
		return nil, err
	}
	p.registry.Put(tenant, t)
	p.notify()
	if err := p.hot.PublishSettings(ctx, tenant); err != nil {
		slog.Warn("could not announce the new data table; other nodes pick it up on their next refresh", "err", err)
	}
	return t, nil
}

func (p *publisher) Table(tenant string) *settings.Table { return p.registry.Table(tenant) }

// loadAll installs every stored table.
func (p *publisher) loadAll(ctx context.Context) error {
	tables, err := p.durable.Tables(ctx, settings.TableName)
	if err != nil {
		return err
	}
	for _, st := range tables {
		p.install(st)
	}
	return nil
}

func (p *publisher) install(st *pgstore.StoredTable) {
	t, err := settings.Parse(st.Name, st.Version, st.Rows)
	if err != nil {
		slog.Error("stored data table is invalid", "tenant", st.Tenant, "err", err)
		return
	}
	if p.registry.Version(st.Tenant) != t.Version {
		p.registry.Put(st.Tenant, t)
		p.notify()
	}
}

func (p *publisher) notify() {
	if p.changed != nil {
		p.changed()
	}
}

// refreshEvery is the safety net should an announcement be lost.
const refreshEvery = 30 * time.Second

// follow reloads a tenant's table when another node announces a publish.
func (p *publisher) follow(ctx context.Context) error {
	changes := p.hot.SettingsChanges(ctx)
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case tenant, ok := <-changes:
			if !ok {
				return nil
			}
			st, err := p.durable.Table(ctx, tenant, settings.TableName)
			if err != nil {
				slog.Warn("could not reload data table", "tenant", tenant, "err", err)
				continue
			}
			if st != nil {
				p.install(st)
			}
		case <-t.C:
			if err := p.loadAll(ctx); err != nil {
				slog.Warn("data table refresh failed", "err", err)
			}
		}
	}
}
