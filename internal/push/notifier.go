package push

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/clock"
	"github.com/gesgo/ges/internal/settings"
)

// Events sent to a callback's push targets.
const (
	// EventUpcoming: the callback's wait fell below the service's Push
	// Notification Threshold (minutes). Sent once per callback.
	EventUpcoming = "CALLBACK_UPCOMING"
	// EventConnect: a USERORIGINATED callback reached ROUTING, so it is the
	// customer's turn to call in. Sent once per callback.
	EventConnect = "CALLBACK_CONNECT"
)

// Record keys. The targets are stored on create; a sent notification is
// marked with the time it was claimed, committed atomically with the check
// that it was not marked yet, so one node sends it, once.
const (
	KeyTargets      = "_push_targets"
	KeyUpcomingSent = "_push_upcoming_sent"
	KeyConnectSent  = "_push_connect_sent"
)

// Source names the notifier's changes in a callback's history.
const Source = "push"

// Target is one push recipient of a callback.
type Target struct {
	Channel string `json:"channel"`
	Target  string `json:"target"`
}

// Targets returns the FCM targets of cb, without duplicates.
func Targets(cb *callback.Callback) []Target {
	raw := cb.Props[KeyTargets]
	if raw == "" {
		return nil
	}
	var list []Target
	if json.Unmarshal([]byte(raw), &list) != nil {
		return nil
	}
	seen := map[string]bool{}
	out := list[:0]
	for _, t := range list {
		t.Target = strings.TrimSpace(t.Target)
		if !strings.EqualFold(t.Channel, Channel) || t.Target == "" || seen[t.Target] {
			continue
		}
		seen[t.Target] = true
		t.Channel = Channel
		out = append(out, t)
	}
	return out
}

// Callbacks is what the notifier needs of the callback service.
type Callbacks interface {
	Get(ctx context.Context, tenant, id string) (*callback.Callback, error)
	Update(ctx context.Context, tenant, id, source string, change func(*callback.Callback) (bool, error)) (*callback.Callback, error)
}

// Notifier decides when a callback's push notifications are due and sends
// them. It looks at a callback after each ORS report (Reported, the hook of
// callback.Service) and, every Interval, at every callback in queue with
// push targets, whose wait it then asks URS for.
type Notifier struct {
	Callbacks Callbacks
	Settings  callback.Settings
	Sender    Sender
	// Estimate is URS' wait (seconds) for a tenant's virtual queue; false
	// when unknown. Nil when no URS is configured.
	Estimate func(ctx context.Context, tenant, vq string) (int, bool)
	// Tables lists the tenants' settings tables (for the periodic check).
	Tables func() map[string]*settings.Table
	// Candidates pages through a tenant's QUEUED/ROUTING callbacks with push
	// targets in the given services, ids after `after`, in id order.
	Candidates func(ctx context.Context, tenant string, services []string, after string, limit int) ([]*callback.Callback, error)
	// Interval of the periodic check; 0 = only on reports.
	Interval time.Duration
	Workers  int
	// SendTimeout bounds one send (the SDK retries 503 by itself).
	SendTimeout time.Duration
	// Clock dates the sent marks (nil: clock.System).
	Clock clock.Clock
	// Sent is told about every send (ges_push_notifications_sent).
	Sent func(tenant, channel string, ok bool)
	// Unreachable is told when FCM could not be reached (NEXUS_ACCESS_FAILURE).
	Unreachable func()

	once sync.Once
	jobs chan job
}

type job struct {
	cb *callback.Callback
	// fresh: the record's EWT was just reported by ORS, so it wins over
	// URS; the periodic check prefers URS' current estimate.
	fresh bool
}

const (
	queueSize       = 1024
	candidatePage   = 500
	defaultWorkers  = 4
	defaultSendWait = 30 * time.Second
)

func (n *Notifier) init() {
	n.once.Do(func() { n.jobs = make(chan job, queueSize) })
}

func (n *Notifier) now() time.Time {
	if n.Clock != nil {
		return n.Clock.Now()
	}
	return clock.System{}.Now()
}

// Reported is the hook of callback.Service: it queues cb for a look when
// it has push targets and is in queue. It never blocks; when the queue is
// full the periodic check catches up.
func (n *Notifier) Reported(cb *callback.Callback) {
	if cb == nil || cb.Props[KeyTargets] == "" || (cb.State != callback.Queued && cb.State != callback.Routing) {
		return
	}
	n.init()
	select {
	case n.jobs <- job{cb: cb.Clone(), fresh: true}:
	default:
		slog.Warn("push notification queue is full; the periodic check will look at the callback", "id", cb.ID)
	}
}

// Run processes the queued looks and runs the periodic check until ctx
// ends.
func (n *Notifier) Run(ctx context.Context) error {
	n.init()
	workers := n.Workers
	if workers <= 0 {
		workers = defaultWorkers
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-n.jobs:
					n.consider(ctx, j.cb, j.fresh)
				}
			}
		}()
	}
	if n.Interval > 0 && n.Tables != nil && n.Candidates != nil {
		t := time.NewTicker(n.Interval)
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-t.C:
				n.check(ctx)
			}
		}
		t.Stop()
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// check queues every callback in queue that may still owe a notification.
func (n *Notifier) check(ctx context.Context) {
	for tenant, table := range n.Tables() {
		var services []string
		for _, name := range table.Names() {
			if s, ok := table.Service(name); ok && (s.PushThresholdMin > 0 || s.CallDirection == settings.UserOriginated) {
				services = append(services, name)
			}
		}
		if len(services) == 0 {
			continue
		}
		after := ""
		for ctx.Err() == nil {
			page, err := n.Candidates(ctx, tenant, services, after, candidatePage)
			if err != nil {
				slog.Warn("push check could not list callbacks in queue", "tenant", tenant, "err", err)
				break
			}
			for _, cb := range page {
				after = cb.ID
				if !n.pending(cb) {
					continue
				}
				select {
				case n.jobs <- job{cb: cb}:
				case <-ctx.Done():
					return
				}
			}
			if len(page) < candidatePage {
				break
			}
		}
	}
}

// pending reports whether cb may still owe a notification.
func (n *Notifier) pending(cb *callback.Callback) bool {
	svc, ok := n.Settings.Service(cb.Tenant, cb.Service)
	if !ok || len(Targets(cb)) == 0 {
		return false
	}
	if svc.CallDirection == settings.UserOriginated && cb.State == callback.Routing {
		return cb.Props[KeyConnectSent] == ""
	}
	return svc.PushThresholdMin > 0 && cb.Props[KeyUpcomingSent] == "" &&
		(cb.State == callback.Queued || cb.State == callback.Routing)
}

// consider sends what is due for cb. From the periodic check cb is the
// durable copy, so the live record is read first.
func (n *Notifier) consider(ctx context.Context, cb *callback.Callback, fresh bool) {
	if !fresh {
		live, err := n.Callbacks.Get(ctx, cb.Tenant, cb.ID)
		if err != nil {
			return
		}
		cb = live
	}
	targets := Targets(cb)
	svc, ok := n.Settings.Service(cb.Tenant, cb.Service)
	if len(targets) == 0 || !ok {
		return
	}
	userOriginated := svc.CallDirection == settings.UserOriginated
	if userOriginated && cb.State == callback.Routing {
		// The customer's turn: CALLBACK_CONNECT supersedes UPCOMING.
		if cb.Props[KeyConnectSent] == "" {
			n.fire(ctx, cb, svc, EventConnect, KeyConnectSent, cb.EWT, targets, func(c *callback.Callback) bool {
				return c.State == callback.Routing
			})
		}
		return
	}
	if svc.PushThresholdMin <= 0 || cb.Props[KeyUpcomingSent] != "" || (cb.State != callback.Queued && cb.State != callback.Routing) {
		return
	}
	limit := svc.PushThresholdMin * 60
	ewt := n.ewt(ctx, cb, fresh)
	if ewt < 0 || ewt >= limit {
		return
	}
	seen := cb.EWT
	n.fire(ctx, cb, svc, EventUpcoming, KeyUpcomingSent, ewt, targets, func(c *callback.Callback) bool {
		if c.State != callback.Queued && c.State != callback.Routing {
			return false
		}
		if userOriginated && c.State == callback.Routing {
			return false
		}
		// A report that came in meanwhile with a longer wait wins.
		return c.EWT == seen || c.EWT < limit
	})
}

// ewt is the wait of cb in seconds, -1 when unknown: what ORS just
// reported, else URS' estimate for its virtual queue (preferred by the
// periodic check, as a reported figure ages), else the last reported one.
func (n *Notifier) ewt(ctx context.Context, cb *callback.Callback, fresh bool) int {
	if fresh && cb.EWT >= 0 {
		return cb.EWT
	}
	if n.Estimate != nil {
		if e, ok := n.Estimate(ctx, cb.Tenant, cb.Service); ok && e >= 0 {
			return e
		}
	}
	return cb.EWT
}

// fire claims the notification on the record (key set to the claim time,
// only if unset and eligible still holds) and, when this call won the
// claim, sends it to every target.
func (n *Notifier) fire(ctx context.Context, cb *callback.Callback, svc *settings.Service, event, key string, ewt int, targets []Target, eligible func(*callback.Callback) bool) {
	var claimed bool
	cur, err := n.Callbacks.Update(ctx, cb.Tenant, cb.ID, Source, func(c *callback.Callback) (bool, error) {
		claimed = false
		if c.Props[key] != "" || !eligible(c) {
			return false, nil
		}
		c.Props[key] = callback.FormatTime(n.now())
		claimed = true
		return true, nil
	})
	if !claimed || cur == nil {
		if err != nil {
			slog.Warn("could not mark a push notification as sent; not sending it", "event", event, "id", cb.ID, "err", err)
		}
		return
	}
	if err != nil {
		// The hot record holds the mark; only its durable copy lags.
		slog.Warn("push notification marked, durable copy not written", "event", event, "id", cb.ID, "err", err)
	}
	data := Payload(event, cur, svc, ewt)
	timeout := n.SendTimeout
	if timeout <= 0 {
		timeout = defaultSendWait
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	for _, t := range targets {
		err := n.Sender.Send(sctx, cur.Tenant, Message{Token: t.Target, Data: data})
		if n.Sent != nil {
			n.Sent(cur.Tenant, t.Channel, err == nil)
		}
		if err != nil {
			if Unreachable(err) && n.Unreachable != nil {
				n.Unreachable()
			}
			slog.Warn("push notification failed", "event", event, "id", cur.ID, "tenant", cur.Tenant, "channel", t.Channel, "unreachable", Unreachable(err), "err", err)
			continue
		}
		slog.Info("push notification sent", "event", event, "id", cur.ID, "tenant", cur.Tenant, "channel", t.Channel)
	}
}

// Payload is the data of a notification (FCM data values are strings).
func Payload(event string, cb *callback.Callback, svc *settings.Service, ewt int) map[string]string {
	d := map[string]string{
		"event":       event,
		"callbackId":  cb.ID,
		"serviceName": cb.Service,
		"state":       string(cb.State),
		"ewt":         strconv.Itoa(ewt),
		"desiredTime": callback.FormatTime(cb.Desired),
		"phoneNumber": cb.Phone,
	}
	if cb.Position > 0 {
		d["position"] = strconv.Itoa(cb.Position)
	}
	if event == EventConnect && svc != nil && svc.DisplayNumber != "" {
		d["dialNumber"] = svc.DisplayNumber
	}
	return d
}
