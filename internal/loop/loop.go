// Package loop gives every background loop of GES the same shape and the
// same supervision: Run(ctx) error that stops when ctx ends, a panic or an
// error taken as the loop's failure (the node is then unfit and exits, so
// that Kubernetes replaces it), and test signals that a test waits on
// instead of sleeping.
package loop

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Signal is a test signal: a loop sends on it at a point tests care about
// (a pass done, a restore finished). It costs nothing unless a test called
// Init, and never blocks the loop.
type Signal[T any] struct{ ch chan T }

// Init makes the signal deliver; tests call it before starting the loop.
func (s *Signal[T]) Init() { s.ch = make(chan T, 256) }

// Send delivers v if a test waits on the signal.
func (s *Signal[T]) Send(v T) {
	if s.ch == nil {
		return
	}
	select {
	case s.ch <- v:
	default:
	}
}

// Wait returns the next value sent, or an error after timeout.
func (s *Signal[T]) Wait(timeout time.Duration) (T, error) {
	var zero T
	if s.ch == nil {
		return zero, errors.New("signal was not initialised")
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case v := <-s.ch:
		return v, nil
	case <-t.C:
		return zero, fmt.Errorf("no signal within %s", timeout)
	}
}

// Func is a background loop.
type Func func(ctx context.Context) error

// Guard runs fn and turns a panic into an error, so that a failing loop is
// reported like any other failure instead of killing the process without a
// word or, recovered elsewhere, leaving the node half alive.
func Guard(ctx context.Context, name string, fn Func) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("loop %s panicked: %v\n%s", name, r, debug.Stack())
		}
	}()
	err = fn(ctx)
	if err == nil && ctx.Err() == nil {
		err = fmt.Errorf("loop %s stopped on its own", name)
	}
	return err
}

// Every runs pass at once and then every interval, or earlier when kick
// delivers, until ctx ends. A pass that fails is retried at the next tick:
// passes fail on store outages, which the loop outlives.
func Every(ctx context.Context, interval time.Duration, kick <-chan struct{}, pass func(context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-kick:
		}
	}
}
