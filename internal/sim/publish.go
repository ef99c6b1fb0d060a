package sim

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/sim/designer"
	"github.com/gesgo/ges/internal/sim/fixture"
)

// publishState tells, per contact center, how the start-up publish went.
type publishState struct {
	mu     sync.Mutex
	status map[string]string
}

func newPublishState() *publishState { return &publishState{status: map[string]string{}} }

func (p *publishState) set(ccid, st string) {
	p.mu.Lock()
	p.status[ccid] = st
	p.mu.Unlock()
}

func (p *publishState) snapshot() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]string, len(p.status))
	for k, v := range p.status {
		out[k] = v
	}
	return out
}

var publishClient = &http.Client{Timeout: 10 * time.Second}

// publishAtStart sends every contact center's tables to GES, waiting for
// GES to come up; contact centers are published one after the other.
func (s *Sim) publishAtStart(ctx context.Context) {
	ccs := s.cfg.Fixture.ContactCenters
	for _, cc := range ccs {
		s.publish.set(cc.ID, "pending")
	}
	for _, cc := range ccs {
		err := designer.PublishUntilAccepted(ctx, designer.WithToken(publishClient, s.cfg.PublishToken), s.cfg.PublishTo, []fixture.ContactCenter{cc}, s.cfg.PublishRetry, s.log)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("designer: publish failed", "ccid", cc.ID, "err", err)
			s.publish.set(cc.ID, "failed: "+err.Error())
			continue
		}
		s.publish.set(cc.ID, "published")
	}
}

type publishAnswer struct {
	CCID   string `json:"ccid"`
	Table  string `json:"table"`
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// handlePublish republishes on demand (e.g. after GES lost its settings):
// POST /sim/designer/publish[?ccid=ID][&ges=BASE]; one attempt, no retry.
func (s *Sim) handlePublish(w http.ResponseWriter, req *http.Request) {
	ges := req.URL.Query().Get("ges")
	if ges == "" {
		ges = s.cfg.PublishTo
	}
	if ges == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "no GES base: pass ?ges= or start with --publish-to"})
		return
	}
	ccs := s.cfg.Fixture.ContactCenters
	if id := req.URL.Query().Get("ccid"); id != "" {
		cc, ok := s.cfg.Fixture.ContactCenterByID(id)
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown contact center " + id})
			return
		}
		ccs = []fixture.ContactCenter{cc}
	}
	answers := []publishAnswer{}
	for _, cc := range ccs {
		res, err := designer.PublishAll(req.Context(), designer.WithToken(publishClient, s.cfg.PublishToken), ges, cc)
		for _, r := range res {
			answers = append(answers, publishAnswer{r.CCID, r.Table, r.Status, string(r.Body)})
		}
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": err.Error(), "answers": answers})
			return
		}
	}
	writeJSON(w, http.StatusOK, answers)
}
