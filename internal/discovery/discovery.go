// Package discovery finds the ORS and URS nodes GES calls over HTTP: from a
// Consul agent (healthy instances of a service, with their region) or from
// a static list, and picks one with region affinity: nodes of the first
// region in the preference order that has a healthy node.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// Node is one healthy instance of a service.
type Node struct {
	URL    string // http://host:port
	Region string
}

// Source lists the healthy nodes of a service.
type Source interface {
	Nodes(ctx context.Context, service string) ([]Node, error)
}

// Static is a fixed list of nodes without regions. Without Consul to
// check them, each node is probed: one that answers HTTP at all is healthy.
type Static []string

// Nodes returns the nodes of the list that answer.
func (s Static) Nodes(ctx context.Context, _ string) ([]Node, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	out := make([]Node, 0, len(s))
	for _, u := range s {
		if !strings.Contains(u, "://") {
			u = "http://" + u
		}
		u = strings.TrimRight(u, "/")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/", nil)
		if err != nil {
			continue
		}
		resp, err := hc.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode < 500 {
			out = append(out, Node{URL: u})
		}
	}
	return out, nil
}

// Consul asks a Consul agent for the instances whose health checks pass.
type Consul struct{ client *consul.Client }

// NewConsul connects to the agent at addr (host:port or URL).
func NewConsul(addr string) (*Consul, error) {
	cfg := consul.DefaultConfig()
	cfg.Address = addr
	if strings.HasPrefix(addr, "https://") {
		cfg.Scheme = "https"
	}
	cfg.Address = strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://")
	c, err := consul.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Consul{client: c}, nil
}

// Nodes returns the passing instances of service. The region is the
// service's "region" meta, else the node's, else its datacenter.
func (c *Consul) Nodes(ctx context.Context, service string) ([]Node, error) {
	entries, _, err := c.client.Health().Service(service, "", true, (&consul.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(entries))
	for _, e := range entries {
		host := e.Service.Address
		if host == "" {
			host = e.Node.Address
		}
		region := e.Service.Meta["region"]
		if region == "" {
			region = e.Node.Meta["region"]
		}
		if region == "" {
			region = e.Node.Datacenter
		}
		out = append(out, Node{URL: "http://" + net.JoinHostPort(host, strconv.Itoa(e.Service.Port)), Region: region})
	}
	return out, nil
}

// ErrNoNode is returned when no healthy node is known.
var ErrNoNode = errors.New("no healthy node")

// Pool keeps the healthy nodes of one service, refreshed on a cycle, and
// orders them by region preference.
type Pool struct {
	Source   Source
	Service  string
	Affinity []string // preferred regions, in order; nodes of other regions come last
	Interval time.Duration
	// Status is told after each refresh whether any node is healthy.
	Status func(healthy bool)

	mu    sync.RWMutex
	nodes []Node
	seen  map[string]Node // every node listed since the start, by URL
	at    time.Time       // of the last refresh
	ready chan struct{}
	once  sync.Once
	next  atomic.Uint64
}

func (p *Pool) init() { p.once.Do(func() { p.ready = make(chan struct{}) }) }

// Run refreshes the nodes every Interval until ctx ends.
func (p *Pool) Run(ctx context.Context) error {
	p.init()
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	first := true
	for {
		p.Refresh(ctx)
		if first {
			close(p.ready)
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh reads the healthy nodes now.
func (p *Pool) Refresh(ctx context.Context) {
	nodes, err := p.Source.Nodes(ctx, p.Service)
	if err != nil {
		slog.Warn("service discovery failed", "service", p.Service, "err", err)
		nodes = nil
	}
	p.mu.Lock()
	p.nodes = nodes
	p.at = time.Now()
	if p.seen == nil {
		p.seen = map[string]Node{}
	}
	for _, n := range nodes {
		p.seen[n.URL] = n
	}
	p.mu.Unlock()
	if p.Status != nil {
		p.Status(len(nodes) > 0)
	}
}

// rank orders regions: the affinity list first, then the rest.
func (p *Pool) rank(region string) int {
	if i := slices.Index(p.Affinity, region); i >= 0 {
		return i
	}
	return len(p.Affinity)
}

// Ordered returns the healthy nodes to try, best first: the preferred
// region's nodes (rotated, to spread load), then the next region's.
func (p *Pool) Ordered(ctx context.Context) ([]Node, error) {
	p.init()
	select { // the first refresh, if the pool was just started
	case <-p.ready:
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	p.mu.RLock()
	nodes := slices.Clone(p.nodes)
	p.mu.RUnlock()
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%s: %w", p.Service, ErrNoNode)
	}
	slices.SortStableFunc(nodes, func(a, b Node) int { return p.rank(a.Region) - p.rank(b.Region) })
	best := 0
	for best < len(nodes) && p.rank(nodes[best].Region) == p.rank(nodes[0].Region) {
		best++
	}
	k := int(p.next.Add(1) % uint64(best))
	first := append(slices.Clone(nodes[k:best]), nodes[:k]...)
	return append(first, nodes[best:]...), nil
}

// NodeState is a node as the Region Affinity page shows it.
type NodeState struct {
	Node
	// Healthy: listed by the last refresh; a node seen before but no
	// longer listed is unhealthy.
	Healthy bool
	// Rank is the region's place in the preference order (0 first);
	// len(Affinity) for a region the order does not name.
	Rank int
	// Preferred: the node is in the region calls go to now (the first
	// preferred region with a healthy node).
	Preferred bool
}

// Snapshot is a pool's nodes and preference at its last refresh.
type Snapshot struct {
	Service   string
	Affinity  []string
	Refreshed time.Time
	// Region is where calls go now ("" when no node is healthy or the
	// nodes have no region).
	Region string
	Nodes  []NodeState
}

// Snapshot returns the nodes known since the start, healthy ones first,
// in the order calls try them (without the rotation inside a region).
func (p *Pool) Snapshot() Snapshot {
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := Snapshot{Service: p.Service, Affinity: slices.Clone(p.Affinity), Refreshed: p.at}
	healthy := map[string]bool{}
	best := -1
	for _, n := range p.nodes {
		healthy[n.URL] = true
		if r := p.rank(n.Region); best < 0 || r < best {
			best, s.Region = r, n.Region
		}
	}
	for _, n := range p.seen {
		r := p.rank(n.Region)
		s.Nodes = append(s.Nodes, NodeState{Node: n, Healthy: healthy[n.URL], Rank: r, Preferred: healthy[n.URL] && r == best})
	}
	slices.SortFunc(s.Nodes, func(a, b NodeState) int {
		switch {
		case a.Healthy != b.Healthy:
			if a.Healthy {
				return -1
			}
			return 1
		case a.Rank != b.Rank:
			return a.Rank - b.Rank
		}
		return strings.Compare(a.URL, b.URL)
	})
	return s
}
