package ors

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// errTerminated is the cancel cause of a session stopped over the ORS API.
var errTerminated = errors.New("session terminated")

// Session is one simulated SCXML callback session.
type Session struct {
	ID        string
	Entry     Entry
	StartedAt time.Time

	seq    uint64 // start order, for queue positions
	record int    // index in the ledger
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	state string
}

func newSessionID() string {
	return strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", ""))
}

func (s *Session) setState(st string) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// State is the last state GES accepted for this session.
func (s *Session) State() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Registry holds the live sessions of this simulator.
type Registry struct {
	mu       sync.Mutex
	next     uint64
	byID     map[string]*Session
	byStream map[string]*Session
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byID: map[string]*Session{}, byStream: map[string]*Session{}}
}

// add registers s unless a live session already plays the same stream entry
// (a redelivery of an entry this simulator is still working on).
func (r *Registry) add(s *Session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byStream[s.Entry.StreamID]; dup {
		return false
	}
	r.next++
	s.seq = r.next
	r.byID[s.ID] = s
	r.byStream[s.Entry.StreamID] = s
	return true
}

func (r *Registry) remove(s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byID, s.ID)
	delete(r.byStream, s.Entry.StreamID)
}

// Get returns a live session.
func (r *Registry) Get(id string) (*Session, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byID[id]
	return s, ok
}

// Position is the 1-based rank of s among the live sessions of its service
// (same contact center and service name), in start order.
func (r *Registry) Position(s *Session) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	pos := 0
	for _, o := range r.byID {
		if o.seq <= s.seq && o.Entry.CCID == s.Entry.CCID && o.Entry.ServiceName == s.Entry.ServiceName {
			pos++
		}
	}
	return max(pos, 1)
}

// streamIDs lists the stream entries of the live sessions.
func (r *Registry) streamIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.byStream))
	for id := range r.byStream {
		ids = append(ids, id)
	}
	return ids
}
