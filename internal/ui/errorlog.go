package ui

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/httpapi"
)

// ErrorRetention is how long external API errors stay searchable.
const ErrorRetention = 14 * 24 * time.Hour

// APIError is one failed external API request, as the API reports it.
type APIError = httpapi.APIError

// ErrorStore keeps the API errors of the Developer tab (pgstore.UIErrors).
type ErrorStore interface {
	Add(ctx context.Context, batch []APIError) error
	// Prune deletes the errors older than before.
	Prune(ctx context.Context, before time.Time) error
	// Search lists a tenant's errors since a time, newest first; corrID
	// narrows to the ids starting with it.
	Search(ctx context.Context, tenant, corrID string, since time.Time, limit int) ([]APIError, error)
}

// ErrorLog keeps the external API's errors for the Developer tab. Record
// never blocks the API: errors beyond a full queue are dropped (and counted
// in the log).
type ErrorLog struct {
	store   ErrorStore
	clock   clock.Clock
	queue   chan APIError
	dropped atomic.Int64
}

// Record queues one error.
func (l *ErrorLog) Record(e APIError) {
	if l == nil {
		return
	}
	select {
	case l.queue <- e:
	default:
		l.dropped.Add(1)
	}
}

func (l *ErrorLog) run(ctx context.Context) error {
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	l.prune(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-prune.C:
			l.prune(ctx)
			if n := l.dropped.Swap(0); n > 0 {
				slog.Warn("API errors not kept for the Developer tab: the queue was full", "dropped", n)
			}
		case e := <-l.queue:
			batch := []APIError{e}
		more:
			for len(batch) < 256 {
				select {
				case e := <-l.queue:
					batch = append(batch, e)
				default:
					break more
				}
			}
			if err := l.store.Add(ctx, batch); err != nil {
				slog.Warn("could not keep API errors for the Developer tab", "count", len(batch), "err", err)
			}
		}
	}
}

func (l *ErrorLog) prune(ctx context.Context) {
	if err := l.store.Prune(ctx, l.clock.Now().Add(-ErrorRetention)); err != nil {
		slog.Warn("could not prune the API error log", "err", err)
	}
}

// Search lists a tenant's errors of the retention period, newest first;
// corrID narrows to the ids starting with it.
func (l *ErrorLog) Search(ctx context.Context, tenant, corrID string, limit int) ([]APIError, error) {
	return l.store.Search(ctx, tenant, corrID, l.clock.Now().Add(-ErrorRetention), limit)
}
