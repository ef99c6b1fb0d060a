// Package lob keeps the line-of-business objects of GES: one script object
// per callback service (virtual queue) in GWS Configuration, created when a
// published CALLBACK_SETTINGS table adds the service and deleted when it
// leaves, so access groups can be granted the services they may see.
package lob

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/settings"
)

// Objects is the configuration service GES keeps proxies in.
type Objects interface {
	Scripts(ctx context.Context, ccid string) ([]gws.Script, error)
	CreateScript(ctx context.Context, ccid, name string) error
	DeleteScript(ctx context.Context, ccid string, dbid int) error
}

// Proxies reconciles each tenant's proxies with its table.
type Proxies struct {
	Objects  Objects
	Tables   func() map[string]*settings.Table // tenant -> table in effect
	Interval time.Duration                     // full pass when nothing failed
	Retry    time.Duration                     // next pass after a failure
	// Failed is told about each failed create or delete
	// (RBAC_CREATE_VQ_PROXY_ERROR).
	Failed func()

	kick chan struct{}
	once sync.Once
}

func (p *Proxies) init() { p.once.Do(func() { p.kick = make(chan struct{}, 1) }) }

// Kick asks for a pass now (a table was published).
func (p *Proxies) Kick() {
	p.init()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends.
func (p *Proxies) Run(ctx context.Context) error {
	p.init()
	for {
		wait := p.Interval
		if !p.Pass(ctx) {
			wait = p.Retry
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-p.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// Pass reconciles every tenant once; false when anything failed.
func (p *Proxies) Pass(ctx context.Context) bool {
	ok := true
	for tenant, table := range p.Tables() {
		if !p.tenant(ctx, tenant, table) {
			ok = false
		}
	}
	return ok
}

func (p *Proxies) fail(tenant, what, name string, err error) {
	slog.Warn("VQ proxy object change failed", "tenant", tenant, "change", what, "service", name, "err", err)
	if p.Failed != nil {
		p.Failed()
	}
}

func (p *Proxies) tenant(ctx context.Context, tenant string, table *settings.Table) bool {
	scripts, err := p.Objects.Scripts(ctx, tenant)
	if err != nil {
		p.fail(tenant, "list", "", err)
		return false
	}
	have := map[string]gws.Script{}
	for _, s := range scripts {
		have[s.Name] = s
	}
	want := map[string]bool{}
	ok := true
	for _, name := range table.Names() {
		want[name] = true
		if _, exists := have[name]; exists {
			continue
		}
		if err := p.Objects.CreateScript(ctx, tenant, name); err != nil {
			p.fail(tenant, "create", name, err)
			ok = false
		}
	}
	for name, s := range have {
		if want[name] || s.Type != gws.ProxyType {
			continue
		}
		if err := p.Objects.DeleteScript(ctx, tenant, s.DBID); err != nil {
			p.fail(tenant, "delete", name, err)
			ok = false
		}
	}
	return ok
}
