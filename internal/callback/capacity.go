package callback

import (
	"context"
	"time"

	"github.com/gesgo/ges/internal/settings"
)

// SlotLoad is a slot with its booked and configured places.
type SlotLoad struct {
	Start, End    time.Time
	Booked, Total int
}

// Load lists the service's slots starting in [from, to), past ones
// included, with the places taken: what the Capacity tool draws. Booked
// may exceed Total when the capacity was lowered after the bookings.
func (s *Service) Load(ctx context.Context, tenant string, svc *settings.Service, from, to time.Time) ([]SlotLoad, error) {
	if to.Sub(from) > MaxWindow {
		to = from.Add(MaxWindow)
	}
	slots := svc.Plan.Slots(from, to)
	starts := make([]time.Time, len(slots))
	for i, sl := range slots {
		starts[i] = sl.Start
	}
	used, err := s.Hot.SlotsUsed(ctx, tenant, svc.Name, starts)
	if err != nil {
		return nil, err
	}
	out := make([]SlotLoad, len(slots))
	for i, sl := range slots {
		out[i] = SlotLoad{Start: sl.Start, End: sl.End, Total: sl.Total, Booked: used[i]}
	}
	return out, nil
}
