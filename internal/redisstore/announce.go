package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// subscriptionPing is how long a subscription (settings, wake-ups) stays
// silent before it pings Redis to check its connection (go-redis pings
// after 3 s by default, which alone would cost an idle node 0.3 commands a
// second). A dead connection is also found by TCP keep-alive, and an
// announcement lost meanwhile costs nothing: every node reloads every table
// from Postgres every 30 s, and a monitor looks at its timers at least once
// a minute.
const subscriptionPing = time.Minute

// SettingsFeed delivers the tenants whose tables another node published
// (SettingsChannel) until ctx ends.
func (s *Store) SettingsFeed(ctx context.Context) <-chan string {
	out := make(chan string, 16)
	sub := s.rdb.Subscribe(ctx, SettingsChannel)
	go func() {
		defer sub.Close()
		defer close(out)
		ch := sub.Channel(redis.WithChannelHealthCheckInterval(subscriptionPing))
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
