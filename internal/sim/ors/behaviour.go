package ors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/sim/fixture"
)

// Behaviour is the run-time tunable part of the simulation: timings and the
// failure draw. The draw uses one seeded generator so a run with the same
// seed and the same order of sessions fails the same callbacks.
type Behaviour struct {
	mu  sync.Mutex
	cfg fixture.ORS
	rng *rand.Rand
}

// NewBehaviour starts from the fixture's ORS settings.
func NewBehaviour(cfg fixture.ORS) *Behaviour {
	return &Behaviour{cfg: cfg, rng: newRand(cfg.Seed)}
}

func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x67657373696d)) // second word: any fixed constant
}

// Get returns the current settings.
func (b *Behaviour) Get() fixture.ORS {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg
}

// Patch applies a partial ORS object. The stream and group cannot change
// while the consumer runs; naming "seed" (even unchanged) restarts the draw.
func (b *Behaviour) Patch(r io.Reader) (fixture.ORS, error) {
	raw, err := io.ReadAll(io.LimitReader(r, 1<<16))
	if err != nil {
		return fixture.ORS{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	next := b.cfg
	if err := fixture.DecodeStrict(bytes.NewReader(raw), &next); err != nil {
		return fixture.ORS{}, err
	}
	if next.StreamName != b.cfg.StreamName || next.ConsumerGroup != b.cfg.ConsumerGroup {
		return fixture.ORS{}, fmt.Errorf("streamName and consumerGroup cannot change at run time")
	}
	if err := next.Validate(); err != nil {
		return fixture.ORS{}, err
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys)
	if _, ok := keys["seed"]; ok {
		b.rng = newRand(next.Seed)
	}
	b.cfg = next
	return next, nil
}

// Fail draws whether the next session fails, and the reason it fails with.
func (b *Behaviour) Fail() (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rng.Float64() < b.cfg.FailureRate, b.cfg.FailureReason
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// Queued, Routing and Processing are the current phase durations.
func (b *Behaviour) Queued() time.Duration     { return ms(b.Get().QueuedMs) }
func (b *Behaviour) Routing() time.Duration    { return ms(b.Get().RoutingMs) }
func (b *Behaviour) Processing() time.Duration { return ms(b.Get().ProcessingMs) }
