package ors

import (
	"bytes"
	"context"
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
	// resumed is open while the consumer is paused and closed when it
	// resumes, so that every waiter wakes at once.
	resumed chan struct{}
}

// NewBehaviour starts from the fixture's ORS settings.
func NewBehaviour(cfg fixture.ORS) *Behaviour {
	b := &Behaviour{cfg: cfg, rng: newRand(cfg.Seed)}
	if cfg.Paused {
		b.resumed = make(chan struct{})
	}
	return b
}

// Paused reports whether the consumer is frozen.
func (b *Behaviour) Paused() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.resumed != nil
}

// WaitRunning returns at once unless the consumer is paused, and otherwise
// when it resumes or ctx ends.
func (b *Behaviour) WaitRunning(ctx context.Context) error {
	for {
		b.mu.Lock()
		ch := b.resumed
		b.mu.Unlock()
		if ch == nil {
			return ctx.Err()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setPaused opens or closes the gate; b.mu is held.
func (b *Behaviour) setPaused(paused bool) {
	switch {
	case paused && b.resumed == nil:
		b.resumed = make(chan struct{})
	case !paused && b.resumed != nil:
		close(b.resumed)
		b.resumed = nil
	}
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
	b.setPaused(next.Paused)
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
