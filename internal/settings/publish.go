package settings

import (
	"context"
	"log/slog"
	"time"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/loop"
)

// Stored is a table as the store keeps it: the rows as published and the
// version the store gave them.
type Stored struct {
	Tenant  string
	Name    string
	Version int64
	Rows    []Row
}

// TableStore is the durable copy of the published tables (pgstore.Store).
type TableStore interface {
	// PublishTable replaces a tenant's table and returns its new version.
	PublishTable(ctx context.Context, tenant, name string, rows []Row, now time.Time) (int64, error)
	// Table reads one tenant's table, nil when never published.
	Table(ctx context.Context, tenant, name string) (*Stored, error)
	// Tables reads every tenant's table of that name.
	Tables(ctx context.Context, name string) ([]*Stored, error)
}

// Announcer tells every node that a tenant published a table
// (redisstore.Store).
type Announcer interface {
	PublishSettings(ctx context.Context, tenant string) error
	// SettingsChanges delivers the announced tenants until ctx ends.
	SettingsChanges(ctx context.Context) <-chan string
}

// DefaultRefresh is how often Run reloads every table: the safety net
// should an announcement be lost.
const DefaultRefresh = 30 * time.Second

// Publisher applies Designer publishes: it validates the whole table, stores
// it, installs it in the registry of this node and tells every other node
// to reload it; Run keeps this node in step with the others' publishes.
type Publisher struct {
	store     TableStore
	announcer Announcer
	registry  *Registry
	clock     clock.Clock

	// Changed is told that a tenant's table changed (line-of-business
	// objects follow the table). Set it before the first load.
	Changed func()
	// Refresh is the interval of Run's full reload (0: DefaultRefresh).
	Refresh time.Duration
	// Signals: Pass delivers after each reload of Run, the announcing
	// tenant or "" for a full refresh.
	Signals struct{ Pass loop.Signal[string] }
}

// NewPublisher returns a publisher installing into registry; a nil clk is
// the system clock.
func NewPublisher(store TableStore, announcer Announcer, registry *Registry, clk clock.Clock) *Publisher {
	if clk == nil {
		clk = clock.System{}
	}
	return &Publisher{store: store, announcer: announcer, registry: registry, clock: clk}
}

// Registry is the registry the publisher installs into.
func (p *Publisher) Registry() *Registry { return p.registry }

// Publish validates and stores a tenant's table, installs it here and
// announces it. The table is refused whole when a row is invalid; an
// announcement that fails is caught up by the other nodes' refresh.
func (p *Publisher) Publish(ctx context.Context, tenant, name string, rows []Row) (*Table, error) {
	if _, err := Parse(name, 0, rows); err != nil {
		return nil, err
	}
	version, err := p.store.PublishTable(ctx, tenant, name, rows, p.clock.Now())
	if err != nil {
		return nil, err
	}
	t, err := Parse(name, version, rows)
	if err != nil {
		return nil, err
	}
	p.registry.Put(tenant, t)
	slog.Debug("data table installed", "tenant", tenant, "table", name, "version", version, "services", len(t.Names()), "from", "publish")
	p.notify()
	if err := p.announcer.PublishSettings(ctx, tenant); err != nil {
		slog.Warn("could not announce the new data table; other nodes pick it up on their next refresh", "err", err)
	}
	return t, nil
}

// Table returns the table in effect for the tenant, or nil.
func (p *Publisher) Table(tenant string) *Table { return p.registry.Table(tenant) }

// LoadAll installs every stored table.
func (p *Publisher) LoadAll(ctx context.Context) error {
	tables, err := p.store.Tables(ctx, TableName)
	if err != nil {
		return err
	}
	for _, st := range tables {
		p.install(st)
	}
	return nil
}

// Reload installs a tenant's stored table if it is not the one in effect.
func (p *Publisher) Reload(ctx context.Context, tenant string) error {
	st, err := p.store.Table(ctx, tenant, TableName)
	if err != nil {
		return err
	}
	if st != nil {
		p.install(st)
	}
	return nil
}

// Refetch reloads a tenant's table and tells Changed even when the table
// did not change: what follows the table (the VQ proxies) is checked again,
// which is what a refetch is asked for.
func (p *Publisher) Refetch(ctx context.Context, tenant string) error {
	if err := p.Reload(ctx, tenant); err != nil {
		return err
	}
	p.notify()
	return nil
}

func (p *Publisher) install(st *Stored) {
	t, err := Parse(st.Name, st.Version, st.Rows)
	if err != nil {
		slog.Error("stored data table is invalid", "tenant", st.Tenant, "err", err)
		return
	}
	if p.registry.Version(st.Tenant) != t.Version {
		p.registry.Put(st.Tenant, t)
		slog.Debug("data table installed", "tenant", st.Tenant, "table", st.Name, "version", t.Version, "services", len(t.Names()), "from", "store")
		p.notify()
	}
}

func (p *Publisher) notify() {
	if p.Changed != nil {
		p.Changed()
	}
}

// Run reloads a tenant's table when another node announces a publish, and
// every table every Refresh, until ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	changes := p.announcer.SettingsChanges(ctx)
	every := p.Refresh
	if every <= 0 {
		every = DefaultRefresh
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case tenant, ok := <-changes:
			if !ok {
				return nil
			}
			if err := p.Reload(ctx, tenant); err != nil {
				slog.Warn("could not reload data table", "tenant", tenant, "err", err)
				continue
			}
			p.Signals.Pass.Send(tenant)
		case <-t.C:
			if err := p.LoadAll(ctx); err != nil {
				slog.Warn("data table refresh failed", "err", err)
				continue
			}
			p.Signals.Pass.Send("")
		}
	}
}
