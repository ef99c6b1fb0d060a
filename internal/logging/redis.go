package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redis is go-redis' logger (redis.SetLogger) writing through slog, so
// that what the client library reports (failed dials, pool problems,
// cluster state reloads) becomes JSON lines of the same log instead of
// plain text on stderr. go-redis gives no level: its lines are about
// connections going wrong, so they are warnings.
type Redis struct {
	// Logger is where the lines go; nil: slog.Default() at the time of
	// each line, so a logger set later is followed.
	Logger *slog.Logger
}

// Printf implements go-redis' internal.Logging.
func (l Redis) Printf(ctx context.Context, format string, v ...any) {
	lg := l.Logger
	if lg == nil {
		lg = slog.Default()
	}
	if !lg.Enabled(ctx, slog.LevelWarn) {
		return
	}
	msg := strings.TrimSpace(strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
	lg.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("component", "go-redis"))
}

// RouteRedis makes go-redis log through slog.Default().
func RouteRedis() { redis.SetLogger(Redis{}) }
