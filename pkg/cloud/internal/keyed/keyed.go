// Package keyed holds one lock per key (an Azure identity, a Google service
// account), so that Keyless's writes to one cloud object queue up instead of
// racing each other, while writes to different ones never wait.
package keyed

import (
	"context"
	"sync"
)

// Locks is one lock per key, made on demand and dropped when nobody holds
// or waits for it. Waiting stops when the context ends. The zero value is
// ready to use.
type Locks struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	ch   chan struct{} // holds a token while locked
	refs int           // holders and waiters
}

// Lock waits for key's lock, or for ctx to end, and returns the function
// that releases it.
func (k *Locks) Lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*entry{}
	}
	e := k.m[key]
	if e == nil {
		e = &entry{ch: make(chan struct{}, 1)}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()

	select {
	case e.ch <- struct{}{}:
		return func() {
			<-e.ch
			k.release(key, e)
		}, nil
	case <-ctx.Done():
		k.release(key, e)
		return nil, ctx.Err()
	}
}

func (k *Locks) release(key string, e *entry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e.refs--; e.refs == 0 {
		delete(k.m, key)
	}
}

// Len is the number of keys held or waited for.
func (k *Locks) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
