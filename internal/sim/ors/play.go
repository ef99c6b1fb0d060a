package ors

import (
	"context"
	"strconv"
	"time"
)

// Callback states and the success reason reported to GES.
const (
	StateQueued     = "QUEUED"
	StateRouting    = "ROUTING"
	StateProcessing = "PROCESSING"
	StateCompleted  = "COMPLETED"
	ReasonConnected = "AGENT_CONNECTED"
)

// play walks the session through the callback states and returns the
// ledger outcome; ok is false when the session was cut by shutdown.
func (svc *Service) play(ctx context.Context, s *Session) (outcome string, ok bool) {
	step := func(body map[string]string, wait func() error) error {
		if err := svc.report(ctx, s, body); err != nil {
			return err
		}
		s.setState(body["_callback_state"])
		if wait == nil {
			return nil
		}
		return wait()
	}
	waitFor := func(phase func() time.Duration) func() error {
		return func() error { return sleep(ctx, phase()) }
	}
	cfg := svc.behaviour
	pos := svc.sessions.Position(s)
	err := step(map[string]string{
		"_ors_session_id": s.ID,
		"_callback_state": StateQueued,
		"_position":       strconv.Itoa(pos),
		"_ewt":            strconv.Itoa(svc.ewt(pos)),
	}, waitFor(cfg.Queued))
	if err == nil {
		err = step(map[string]string{"_callback_state": StateRouting}, waitFor(cfg.Routing))
	}
	if err != nil {
		return outcomeOf(ctx, err)
	}
	reason := ReasonConnected
	if fail, why := cfg.Fail(); fail {
		reason = why
	} else {
		err = step(map[string]string{"_callback_state": StateProcessing}, waitFor(cfg.Processing))
	}
	if err == nil {
		err = step(map[string]string{"_callback_state": StateCompleted, "_callback_reason": reason}, nil)
	}
	if err != nil {
		return outcomeOf(ctx, err)
	}
	return "completed:" + reason, true
}

// ewt estimates, in whole seconds rounded up, how long a session at pos
// waits: every session ahead of it in this simulator takes one queued phase.
func (svc *Service) ewt(pos int) int {
	q := svc.behaviour.Get().QueuedMs
	return (pos*q + 999) / 1000
}
