package discovery

import (
	"context"
	"testing"
)

type fakeSource struct{ nodes []Node }

func (f *fakeSource) Nodes(context.Context, string) ([]Node, error) { return f.nodes, nil }

// The Region Affinity page's view: healthy nodes first in preference
// order, the current region marked, a node that left the list unhealthy.
func TestSnapshot(t *testing.T) {
	src := &fakeSource{nodes: []Node{{URL: "http://c", Region: "other"}, {URL: "http://b", Region: "eastus"}, {URL: "http://a", Region: "westus2"}}}
	p := &Pool{Source: src, Service: "ors", Affinity: []string{"westus2", "eastus"}}
	ctx := context.Background()
	p.Refresh(ctx)
	s := p.Snapshot()
	if s.Service != "ors" || s.Region != "westus2" || s.Refreshed.IsZero() || len(s.Nodes) != 3 {
		t.Fatalf("snapshot %+v", s)
	}
	for i, want := range []struct {
		url       string
		rank      int
		preferred bool
	}{{"http://a", 0, true}, {"http://b", 1, false}, {"http://c", 2, false}} {
		n := s.Nodes[i]
		if n.URL != want.url || n.Rank != want.rank || n.Preferred != want.preferred || !n.Healthy {
			t.Errorf("node %d: %+v, want %+v", i, n, want)
		}
	}
	// westus2 goes away: calls fall back to eastus, the node stays listed
	// as unhealthy, last.
	src.nodes = src.nodes[:2]
	p.Refresh(ctx)
	s = p.Snapshot()
	if s.Region != "eastus" || len(s.Nodes) != 3 {
		t.Fatalf("after the fall-back: %+v", s)
	}
	if n := s.Nodes[0]; n.URL != "http://b" || !n.Preferred {
		t.Errorf("first: %+v", n)
	}
	if n := s.Nodes[2]; n.URL != "http://a" || n.Healthy || n.Preferred {
		t.Errorf("gone node: %+v", n)
	}
	// Nothing healthy: no current region.
	src.nodes = nil
	p.Refresh(ctx)
	if s := p.Snapshot(); s.Region != "" || len(s.Nodes) != 3 || s.Nodes[0].Healthy {
		t.Errorf("all down: %+v", s)
	}
}
