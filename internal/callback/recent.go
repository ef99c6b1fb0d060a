package callback

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// Recent remembers the records this node last committed, so that the next
// change of one (ORS reports a callback's progress right after the monitor
// handed it off, three or four times) starts from the remembered copy
// instead of reading Redis first. The copy is a guess: every commit checks
// the revision it replaces, so a stale copy (another node changed the
// record, Redis was restored) costs a retry from the stored record, never
// a wrong write. Bounded in count, and records with large user data are
// not kept, so it holds a few MB at most.
type Recent struct {
	cache *lru.Cache[string, *Callback]
}

// recentMaxUserData is the largest user data a remembered record carries.
const recentMaxUserData = 2 << 10

// NewRecent remembers up to size records (0: a default of 8192).
func NewRecent(size int) *Recent {
	if size <= 0 {
		size = 8192
	}
	c, _ := lru.New[string, *Callback](size) // fails only for size <= 0
	return &Recent{cache: c}
}

func recentKey(tenant, id string) string { return tenant + "\x00" + id }

// get returns the remembered record, nil when there is none. The caller
// must not change it (changes are made on a Clone).
func (r *Recent) get(tenant, id string) *Callback {
	if r == nil {
		return nil
	}
	cb, _ := r.cache.Get(recentKey(tenant, id))
	return cb
}

// put remembers a committed record; a final one is forgotten instead, as
// no further change is expected.
func (r *Recent) put(cb *Callback) {
	if r == nil {
		return
	}
	k := recentKey(cb.Tenant, cb.ID)
	if cb.State.Final() || cb.Detached || len(cb.UserData) > recentMaxUserData {
		r.cache.Remove(k)
		return
	}
	r.cache.Add(k, cb.Clone())
}

// drop forgets a record whose remembered copy proved wrong.
func (r *Recent) drop(tenant, id string) {
	if r != nil {
		r.cache.Remove(recentKey(tenant, id))
	}
}
