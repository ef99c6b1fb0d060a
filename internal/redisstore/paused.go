package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Held is a due callback of a paused service, held back from ORS.
type Held struct {
	ID, Service string
	Due         time.Time
}

// Pause adds a service to the tenant's paused set.
func (s *Store) Pause(ctx context.Context, tenant, service string) error {
	if err := s.rdb.SAdd(ctx, pausedKey(tenant), service).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// SetPaused replaces the tenant's paused set (a restore from Postgres).
func (s *Store) SetPaused(ctx context.Context, tenant string, services []string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, pausedKey(tenant))
		if len(services) > 0 {
			m := make([]any, len(services))
			for i, v := range services {
				m[i] = v
			}
			p.SAdd(ctx, pausedKey(tenant), m...)
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// PausedServices returns the tenant's paused set (one command, asked only
// by a batch that has hand-offs).
func (s *Store) PausedServices(ctx context.Context, tenant string) (map[string]bool, error) {
	names, err := s.rdb.SMembers(ctx, pausedKey(tenant)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// Hold keeps due callbacks of paused services back until their service
// resumes; one whose service was resumed meanwhile goes back to its timer.
// It returns how many were held.
func (s *Store) Hold(ctx context.Context, tenant string, hs []Held) (int, error) {
	if len(hs) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 3*len(hs))
	for _, h := range hs {
		args = append(args, h.Service, h.ID, h.Due.UnixMilli())
	}
	n, err := holdScript.Run(ctx, s.rdb, []string{pausedKey(tenant), heldKey(tenant), heldServiceKey(tenant), dueKey(tenant)}, args...).Int()
	if err != nil {
		return 0, unavailable(err)
	}
	if n < len(hs) {
		err = s.Announce(ctx, tenant, s.clock.Now())
	}
	return n, err
}

// Resume takes a service out of the paused set and gives its held
// callbacks back to their timers, with the due times they were held at:
// they are claimed in due order. It returns how many went back.
func (s *Store) Resume(ctx context.Context, tenant, service string) (int, error) {
	res, err := resumeScript.Run(ctx, s.rdb, []string{pausedKey(tenant), heldKey(tenant), heldServiceKey(tenant), dueKey(tenant)}, service).Int64Slice()
	if err != nil {
		return 0, unavailable(err)
	}
	if len(res) != 2 {
		return 0, errors.New("resume: unexpected answer")
	}
	if res[0] > 0 && res[1] >= 0 {
		return int(res[0]), s.Announce(ctx, tenant, time.UnixMilli(res[1]))
	}
	return int(res[0]), nil
}

// IsHeld reports whether a callback is held back by its paused service.
func (s *Store) IsHeld(ctx context.Context, tenant, id string) (bool, error) {
	_, err := s.rdb.ZScore(ctx, heldKey(tenant), id).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	return true, nil
}

// HeldAmong tells which of a tenant's callbacks are held back by their
// paused service, in one command: held[i] is about ids[i].
func (s *Store) HeldAmong(ctx context.Context, tenant string, ids []string) ([]bool, error) {
	held := make([]bool, len(ids))
	if len(ids) == 0 {
		return held, nil
	}
	scores, err := s.rdb.ZMScore(ctx, heldKey(tenant), ids...).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	for i, sc := range scores {
		held[i] = sc != 0 // ZMSCORE gives 0 for a missing member; due times are never 0
	}
	return held, nil
}

// HeldCount counts the callbacks held back in a tenant's paused services.
func (s *Store) HeldCount(ctx context.Context, tenant string) (map[string]int, error) {
	all, err := s.rdb.HGetAll(ctx, heldServiceKey(tenant)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := map[string]int{}
	for _, svc := range all {
		out[svc]++
	}
	return out, nil
}
