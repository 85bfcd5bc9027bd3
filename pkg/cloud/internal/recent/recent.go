// Package recent keeps what a provider last read of one identity (an IAM
// policy's members, an identity's federated credentials) for a short
// time, so that the drift checks of the many ServiceAccounts sharing the
// identity, which the controller schedules together, cost one cloud read
// instead of one each. The provider keeps an entry current with its own
// writes and drops it on any doubt.
package recent

import (
	"sync"
	"time"
)

// Reads maps a key to a value read at some time; a value older than TTL is
// gone. The zero value with TTL 0 keeps nothing. Safe for concurrent use.
type Reads[V any] struct {
	// TTL is how long a read answers for the identity.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	m  map[string]entry[V]
}

type entry[V any] struct {
	v  V
	at time.Time
}

func (r *Reads[V]) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Get returns the value of key read less than TTL ago.
func (r *Reads[V]) Get(key string) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[key]
	if !ok || r.now().Sub(e.at) >= r.TTL || r.now().Before(e.at) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put records v as read now for key.
func (r *Reads[V]) Put(key string, v V) {
	if r.TTL <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]entry[V]{}
	}
	now := r.now()
	if len(r.m) >= 64 && len(r.m)%64 == 0 {
		for k, e := range r.m {
			if now.Sub(e.at) >= r.TTL {
				delete(r.m, k)
			}
		}
	}
	r.m[key] = entry[V]{v: v, at: now}
}

// Forget drops key.
func (r *Reads[V]) Forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}

// Len is the number of keys kept, expired ones included until pruned.
func (r *Reads[V]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}
