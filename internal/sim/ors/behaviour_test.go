package ors_test

import (
	"strings"
	"testing"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/ors"
)

func draws(b *ors.Behaviour, n int) string {
	var s strings.Builder
	for range n {
		if fail, _ := b.Fail(); fail {
			s.WriteByte('F')
		} else {
			s.WriteByte('.')
		}
	}
	return s.String()
}

func TestFailureDrawIsDeterministicPerSeed(t *testing.T) {
	cfg := fixture.DefaultORS()
	cfg.FailureRate = 0.5
	a, b := draws(ors.NewBehaviour(cfg), 64), draws(ors.NewBehaviour(cfg), 64)
	if a != b {
		t.Fatalf("same seed, different draws:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "F") || !strings.Contains(a, ".") {
		t.Fatalf("rate 0.5 drew %s", a)
	}
	cfg.Seed = 2
	if c := draws(ors.NewBehaviour(cfg), 64); c == a {
		t.Fatalf("seed 2 drew the same as seed 1")
	}
}

func TestPatchChangesOnlyGivenFields(t *testing.T) {
	b := ors.NewBehaviour(fixture.DefaultORS())
	got, err := b.Patch(strings.NewReader(`{"queuedMs":5,"failureRate":1,"failureReason":"FAIL_ERROR"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.QueuedMs != 5 || got.RoutingMs != 200 || got.FailureRate != 1 || b.Get() != got {
		t.Fatalf("patched = %+v", got)
	}
	if fail, why := b.Fail(); !fail || why != "FAIL_ERROR" {
		t.Fatalf("Fail() = %v %q", fail, why)
	}
	for _, bad := range []string{`{"failureRate":2}`, `{"queuedMs":-1}`, `{"bogus":1}`,
		`{"streamName":"Other"}`, `{"consumerGroup":"x"}`, `{} {}`, `not json`} {
		if _, err := b.Patch(strings.NewReader(bad)); err == nil {
			t.Errorf("Patch(%s) accepted", bad)
		}
	}
	if b.Get() != got {
		t.Fatalf("a refused patch changed the settings: %+v", b.Get())
	}
}

func TestPatchSeedRestartsTheDraw(t *testing.T) {
	cfg := fixture.DefaultORS()
	cfg.FailureRate = 0.5
	b := ors.NewBehaviour(cfg)
	first := draws(b, 32)
	if _, err := b.Patch(strings.NewReader(`{"seed":1}`)); err != nil {
		t.Fatal(err)
	}
	if again := draws(b, 32); again != first {
		t.Fatalf("reseeding did not replay the draw: %s vs %s", first, again)
	}
}
