package ors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Report retries: network errors are retried this many times, this far
// apart; a status answer is never retried because it is GES' decision.
const (
	reportRetries    = 5
	reportRetryPause = 200 * time.Millisecond
)

// errAborted ends a session because GES refused a report or could not be
// reached; its text becomes the "aborted:<status>" outcome.
type errAborted struct{ status string }

func (e errAborted) Error() string { return "aborted:" + e.status }

// report PUTs body to the callback's update URL.
func (svc *Service) report(ctx context.Context, s *Session, body map[string]string) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	// A paused ORS holds the report back; the session resumes where it was.
	if err := svc.behaviour.WaitRunning(ctx); err != nil {
		return err
	}
	var lastErr error
	for try := 0; try <= reportRetries; try++ {
		if try > 0 {
			if err := sleep(ctx, reportRetryPause); err != nil {
				return err
			}
		}
		status, err := svc.put(ctx, s, data)
		switch {
		case err == nil && status/100 == 2:
			return nil
		case err == nil:
			return errAborted{status: fmt.Sprint(status)}
		case ctx.Err() != nil:
			return ctx.Err()
		}
		lastErr = err
		svc.log.Warn("ors: report failed", "session", s.ID, "callbackId", s.Entry.CallbackID, "try", try+1, "err", err)
	}
	svc.log.Error("ors: giving up on report", "session", s.ID, "callbackId", s.Entry.CallbackID, "err", lastErr)
	return errAborted{status: "network"}
}

func (svc *Service) put(ctx context.Context, s *Session, data []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.Entry.UpdateURL, bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ContactCenterId", s.Entry.CCID)
	resp, err := svc.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		svc.log.Info("ors: GES refused report", "session", s.ID, "callbackId", s.Entry.CallbackID,
			"status", resp.StatusCode, "body", string(answer))
	}
	return resp.StatusCode, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// outcomeOf maps the error that ended a session to its ledger outcome; ok is
// false when the simulator itself is shutting down, in which case the entry
// stays pending so that a restarted simulator reclaims it.
func outcomeOf(ctx context.Context, err error) (outcome string, ok bool) {
	var ab errAborted
	switch {
	case errors.As(err, &ab):
		return ab.Error(), true
	case errors.Is(context.Cause(ctx), errTerminated):
		return OutcomeTerminated, true
	default:
		return OutcomeRunning, false
	}
}
