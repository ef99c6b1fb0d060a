package designer

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gesgo/ges/internal/sim/fixture"
)

// Retry paces PublishUntilAccepted. GES usually starts after the simulator,
// so the first attempts are expected to fail.
type Retry struct {
	Every time.Duration
	For   time.Duration
}

// DefaultRetry is the pacing of `gessim serve --publish-to`.
var DefaultRetry = Retry{Every: 500 * time.Millisecond, For: 60 * time.Second}

// PublishUntilAccepted publishes every table of every contact center,
// retrying each one until GES answers 2xx or the retry window closes.
func PublishUntilAccepted(ctx context.Context, hc *http.Client, gesBase string, ccs []fixture.ContactCenter, r Retry, log *slog.Logger) error {
	deadline := time.Now().Add(r.For)
	for _, cc := range ccs {
		for _, table := range TableNames(cc) {
			if err := publishOne(ctx, hc, gesBase, cc, table, r.Every, deadline, log); err != nil {
				return err
			}
		}
	}
	return nil
}

func publishOne(ctx context.Context, hc *http.Client, gesBase string, cc fixture.ContactCenter, table string, every time.Duration, deadline time.Time, log *slog.Logger) error {
	for attempt := 1; ; attempt++ {
		res, err := PublishTable(ctx, hc, gesBase, cc, table)
		switch {
		case err == nil && res.OK():
			log.Info("designer: table published", "ccid", cc.ID, "table", table, "status", res.Status, "attempt", attempt)
			return nil
		case err == nil:
			err = fmt.Errorf("publish %s/%s: GES answered %d: %s", cc.ID, table, res.Status, res.Body)
		}
		if time.Now().Add(every).After(deadline) {
			return err
		}
		log.Debug("designer: publish failed, retrying", "err", err, "attempt", attempt)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}
