package settings

import (
	"slices"
	"sync"
)

// Registry holds the tables in effect on this node, per tenant. It is a
// cache: the durable copy lives in the store and every node reloads a
// tenant's table when told that a new version was published.
type Registry struct {
	mu     sync.RWMutex
	tables map[string]*Table
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{tables: map[string]*Table{}} }

// Table returns the table in effect for the tenant, or nil.
func (r *Registry) Table(tenant string) *Table {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tables[tenant]
}

// Service returns a service of a tenant.
func (r *Registry) Service(tenant, name string) (*Service, bool) {
	return r.Table(tenant).Service(name)
}

// Put installs t for the tenant unless a newer version is already in effect.
func (r *Registry) Put(tenant string, t *Table) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.tables[tenant]; cur != nil && cur.Version > t.Version {
		return
	}
	r.tables[tenant] = t
}

// Version returns the version in effect for the tenant (0 when none).
func (r *Registry) Version(tenant string) int64 {
	if t := r.Table(tenant); t != nil {
		return t.Version
	}
	return 0
}

// All returns the tables in effect, per tenant.
func (r *Registry) All() map[string]*Table {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]*Table, len(r.tables))
	for k, v := range r.tables {
		out[k] = v
	}
	return out
}

// Tenants lists the tenants that have a table, sorted.
func (r *Registry) Tenants() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.tables))
	for k := range r.tables {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
