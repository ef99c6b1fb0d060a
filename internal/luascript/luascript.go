// Package luascript sends Redis scripts in pipelines: many calls of a
// script in one round trip, each by its digest.
package luascript

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// Exec sends the commands queue adds in one pipeline and returns them.
// Scripts are called by digest (Script.EvalSha on the pipeline). A server
// that does not know a script (it restarted, or is new) refuses each call
// of it without running it; the scripts are then loaded and the pipeline
// is sent once more. queue must therefore only add commands that may be
// repeated when its scripts did not run; the commands of the first sending
// keep their answers, so a caller that needs those can keep them.
func Exec(ctx context.Context, rdb redis.UniversalClient, scripts []*redis.Script, queue func(redis.Pipeliner)) ([]redis.Cmder, error) {
	cmds, err := send(ctx, rdb, queue)
	if !unknownScript(cmds) {
		return cmds, err
	}
	for _, s := range scripts {
		if err := s.Load(ctx, rdb).Err(); err != nil {
			return cmds, err
		}
	}
	return send(ctx, rdb, queue)
}

func send(ctx context.Context, rdb redis.UniversalClient, queue func(redis.Pipeliner)) ([]redis.Cmder, error) {
	pipe := rdb.Pipeline()
	queue(pipe)
	cmds, err := pipe.Exec(ctx)
	if errors.Is(err, redis.Nil) {
		err = nil // a nil answer is an answer; each command keeps its own
	}
	return cmds, err
}

func unknownScript(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}
