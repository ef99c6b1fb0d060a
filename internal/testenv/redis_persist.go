package testenv

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions turn on redis-server persistence, for tests of a server that
// restarts with (possibly stale) data, as a production Redis does.
type RedisOptions struct {
	// Save is the --save value, e.g. "60 1000"; empty means no automatic
	// snapshots (Snapshot still writes one).
	Save string
	// AppendOnly turns on the append-only file (--appendonly yes), flushed
	// every second.
	AppendOnly bool
}

func (o RedisOptions) appendOnly() string {
	if o.AppendOnly {
		return "yes"
	}
	return "no"
}

// Snapshot writes the whole dataset to dump.rdb now (SAVE), so that a later
// Kill and Restart brings the server back with exactly this data, however
// stale it has become by then.
func (r *Redis) Snapshot() error {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Save(ctx).Err()
}
