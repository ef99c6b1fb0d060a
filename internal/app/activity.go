package app

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/health"
)

// activityHook tells a health.Activity about every command of a Redis
// client: an answer (a nil reply included) or a failure. A node that talks
// to Redis anyway then sends no PING of its own.
type activityHook struct {
	a   *health.Activity
	now func() time.Time
}

func watchActivity(c redis.UniversalClient, now func() time.Time) *health.Activity {
	a := &health.Activity{}
	c.AddHook(activityHook{a: a, now: now})
	return a
}

func (h activityHook) record(err error) {
	if err == nil || errors.Is(err, redis.Nil) {
		h.a.Answered(h.now())
		return
	}
	h.a.Failed(h.now())
}

func (h activityHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h activityHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.record(err)
		return err
	}
}

func (h activityHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.record(err)
		return err
	}
}
