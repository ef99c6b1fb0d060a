package app

import (
	"net/http"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/config"
	"github.com/gesgo/ges/internal/discovery"
	"github.com/gesgo/ges/internal/metrics"
	"github.com/gesgo/ges/internal/voice"
)

// platform builds the ORS and URS clients: nodes from Consul when an agent
// is configured, else from ORS_URL/URS_URL; nil when neither names any.
func platform(cfg *config.Config, m *metrics.Metrics) (*voice.URS, *voice.ORS, []*discovery.Pool, error) {
	affinity := splitRegions(cfg.RegionAffinity)
	if len(affinity) == 0 && cfg.Region != "" {
		affinity = []string{cfg.Region}
	}
	interval := time.Duration(cfg.Platform.DiscoveryIntervalSeconds) * time.Second
	var src func(urls []string) discovery.Source
	if cfg.ConsulAddr != "" {
		c, err := discovery.NewConsul(cfg.ConsulAddr)
		if err != nil {
			return nil, nil, nil, err
		}
		src = func([]string) discovery.Source { return c }
	} else {
		src = func(urls []string) discovery.Source {
			if len(urls) == 0 {
				return nil
			}
			return discovery.Static(urls)
		}
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	var pools []*discovery.Pool
	var urs *voice.URS
	var ors *voice.ORS
	if s := src(cfg.Platform.URSURLs); s != nil {
		p := &discovery.Pool{Source: s, Service: cfg.Platform.URSService, Affinity: affinity, Interval: interval,
			Status: func(any bool) { m.SetHealth(metrics.AllURSDown, any) }}
		pools = append(pools, p)
		urs = &voice.URS{Pool: p, Client: hc, TTL: 3 * time.Second}
	}
	if s := src(cfg.Platform.ORSURLs); s != nil {
		p := &discovery.Pool{Source: s, Service: cfg.Platform.ORSService, Affinity: affinity, Interval: interval}
		pools = append(pools, p)
		ors = &voice.ORS{Pool: p, Client: hc}
	}
	return urs, ors, pools, nil
}

func splitRegions(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}
