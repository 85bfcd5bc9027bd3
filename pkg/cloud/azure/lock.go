package azure

import (
	"context"
	"sync"
)

// keyedLock is one mutex per key, made on demand and dropped when unused,
// so writes to one identity queue while other identities proceed. Waiting
// stops when the context ends. The zero value is ready to use.
type keyedLock struct {
	mu   sync.Mutex
	held map[string]*keyEntry
}

type keyEntry struct {
	sem   chan struct{} // capacity 1: full while held
	users int           // holders and waiters; the entry goes at zero
}

// lock waits for key and returns the function that releases it.
func (k *keyedLock) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.held == nil {
		k.held = map[string]*keyEntry{}
	}
	e := k.held[key]
	if e == nil {
		e = &keyEntry{sem: make(chan struct{}, 1)}
		k.held[key] = e
	}
	e.users++
	k.mu.Unlock()

	select {
	case e.sem <- struct{}{}:
		return func() {
			<-e.sem
			k.leave(key, e)
		}, nil
	case <-ctx.Done():
		k.leave(key, e)
		return nil, ctx.Err()
	}
}

func (k *keyedLock) leave(key string, e *keyEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e.users--; e.users == 0 {
		delete(k.held, key)
	}
}
