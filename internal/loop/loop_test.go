package loop

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestGuardTurnsFailuresIntoErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Guard(ctx, "p", func(context.Context) error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic: %v", err)
	}
	want := errors.New("store gone")
	if err := Guard(ctx, "e", func(context.Context) error { return want }); !errors.Is(err, want) {
		t.Fatalf("error: %v", err)
	}
	// A loop that returns while it should still run has failed too.
	if err := Guard(ctx, "q", func(context.Context) error { return nil }); err == nil {
		t.Fatal("a loop that quit early is not a failure")
	}
	cancel()
	if err := Guard(ctx, "s", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("stopped by its context: %v", err)
	}
}

func TestEveryRunsOnKickAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	kick := make(chan struct{}, 1)
	var passes Signal[int]
	passes.Init()
	n := 0
	done := make(chan error, 1)
	go func() {
		done <- Every(ctx, time.Hour, kick, func(context.Context) { n++; passes.Send(n) })
	}()
	if v, err := passes.Wait(5 * time.Second); err != nil || v != 1 {
		t.Fatalf("first pass: %v %v", v, err)
	}
	kick <- struct{}{}
	if v, err := passes.Wait(5 * time.Second); err != nil || v != 2 {
		t.Fatalf("kicked pass: %v %v", v, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var unset Signal[int]
	unset.Send(1) // never blocks
	if _, err := unset.Wait(time.Millisecond); err == nil {
		t.Fatal("an uninitialised signal delivered")
	}
}
