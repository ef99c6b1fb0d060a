package ors

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func isBusyGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "BUSYGROUP") }
func isNoGroup(err error) bool   { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// readLoop takes new entries from the group.
func (svc *Service) readLoop(ctx context.Context) {
	for ctx.Err() == nil {
		if svc.behaviour.WaitRunning(ctx) != nil {
			return
		}
		res, err := svc.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group:    svc.group,
			Consumer: svc.opts.Consumer,
			Streams:  []string{svc.stream, ">"},
			Count:    svc.opts.Count,
			Block:    svc.opts.Block,
		}).Result()
		switch {
		case ctx.Err() != nil:
			return // entries read while stopping stay pending and are reclaimed later
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			svc.recover(ctx, err)
			continue
		}
		// A read already blocking when the pause began may still deliver;
		// its sessions start only once the consumer resumes.
		if svc.behaviour.WaitRunning(ctx) != nil {
			return
		}
		for _, st := range res {
			for _, m := range st.Messages {
				svc.start(ctx, m)
			}
		}
	}
}

// recover handles a failed read: a stream deleted under us (FLUSHALL in a
// test, a Voice Redis restart without persistence) loses its group too.
func (svc *Service) recover(ctx context.Context, err error) {
	if isNoGroup(err) {
		svc.log.Warn("ors: consumer group vanished, recreating", "stream", svc.stream)
		if err := svc.createGroup(ctx); err == nil {
			return
		}
	} else {
		svc.log.Warn("ors: stream read failed", "err", err)
	}
	_ = sleep(ctx, time.Second)
}

// claimLoop adopts entries another consumer took and never acknowledged
// (a simulator that crashed mid-session).
func (svc *Service) claimLoop(ctx context.Context) {
	t := time.NewTicker(svc.opts.ClaimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !svc.behaviour.Paused() {
				svc.claimOnce(ctx)
			}
		}
	}
}

func (svc *Service) claimOnce(ctx context.Context) {
	start := "0-0"
	for {
		msgs, next, err := svc.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: svc.stream, Group: svc.group, Consumer: svc.opts.Consumer,
			MinIdle: svc.opts.ClaimIdle, Start: start, Count: svc.opts.Count,
		}).Result()
		if err != nil {
			if ctx.Err() == nil && !isNoGroup(err) {
				svc.log.Warn("ors: autoclaim failed", "err", err)
			}
			return
		}
		for _, m := range msgs {
			if ctx.Err() != nil {
				return
			}
			svc.log.Info("ors: reclaimed idle entry", "streamId", m.ID)
			svc.start(ctx, m)
		}
		if next == "0-0" || next == "" {
			return
		}
		start = next
	}
}

// heartbeatLoop resets the idle time of entries this simulator is still
// playing, so that a long session is not mistaken for a dead consumer's.
func (svc *Service) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(svc.opts.HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if svc.behaviour.Paused() {
			continue // a frozen ORS does not show it is alive either
		}
		ids := svc.sessions.streamIDs()
		for len(ids) > 0 {
			batch := ids[:min(len(ids), 100)]
			ids = ids[len(batch):]
			err := svc.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
				Stream: svc.stream, Group: svc.group, Consumer: svc.opts.Consumer, Messages: batch,
			}).Err()
			if err != nil && ctx.Err() == nil {
				svc.log.Warn("ors: heartbeat failed", "err", err)
			}
		}
	}
}

// start plays one entry in its own goroutine.
func (svc *Service) start(ctx context.Context, m redis.XMessage) {
	e, err := ParseEntry(m.ID, m.Values)
	if err != nil {
		svc.log.Error("ors: unplayable entry", "streamId", m.ID, "err", err)
		svc.ledger.Add(Record{StreamID: m.ID, CCID: e.CCID, CallbackID: e.CallbackID, Attempt: e.Attempt,
			ServiceName: e.ServiceName, Outcome: "aborted:invalid"})
		svc.ack(m.ID)
		return
	}
	sctx, cancel := context.WithCancelCause(ctx)
	s := &Session{ID: newSessionID(), Entry: e, StartedAt: time.Now().UTC(), cancel: cancel}
	if !svc.sessions.add(s) {
		cancel(nil)
		return
	}
	s.record = svc.ledger.Add(Record{StreamID: m.ID, CCID: e.CCID, CallbackID: e.CallbackID, Attempt: e.Attempt,
		SessionID: s.ID, ServiceName: e.ServiceName, Outcome: OutcomeRunning})
	svc.log.Info("ors: session started", "session", s.ID, "streamId", m.ID, "ccid", e.CCID,
		"callbackId", e.CallbackID, "attempt", e.Attempt, "service", e.ServiceName)
	svc.running.Go(func() {
		defer cancel(nil)
		outcome, ok := svc.play(sctx, s)
		svc.sessions.remove(s)
		if !ok {
			svc.log.Info("ors: session interrupted by shutdown", "session", s.ID)
			return
		}
		svc.ledger.Finish(s.record, outcome)
		svc.ack(m.ID)
		svc.log.Info("ors: session ended", "session", s.ID, "callbackId", e.CallbackID, "outcome", outcome)
	})
}

// ack acknowledges an entry. It outlives the session's context on purpose:
// a terminated session must still be acknowledged.
func (svc *Service) ack(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := svc.rdb.XAck(ctx, svc.stream, svc.group, id).Err(); err != nil {
		svc.log.Error("ors: XACK failed", "streamId", id, "err", err)
	}
}

// Terminate stops a live session, as ORS does on a terminate request.
func (svc *Service) Terminate(id string) bool {
	s, ok := svc.sessions.Get(id)
	if ok {
		s.cancel(errTerminated)
	}
	return ok
}
