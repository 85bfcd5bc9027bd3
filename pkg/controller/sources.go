package controller

import (
	"context"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Sources learns when the controllers' event sources have synced: when a
// controller starts, each informer it watches hands it every object
// already cached (50,000 ServiceAccounts are 50,000 events for each of
// the four controllers that watch them), and the controller waits for
// that replay before its workers start. The zero value is ready to use;
// a nil *Sources tracks nothing.
type Sources struct {
	mu     sync.Mutex
	synced []chan struct{}
}

// kind is source.Kind, tracked by s.
func (s *Sources) kind(c cache.Cache, obj client.Object, h handler.EventHandler, p ...predicate.Predicate) source.Source {
	k := source.Kind(c, obj, h, p...)
	if s == nil {
		return k
	}
	return s.Track(k)
}

// Track returns src, which s sees sync once its controller has waited for
// it with success.
func (s *Sources) Track(src source.SyncingSource) source.SyncingSource {
	t := &trackedSource{SyncingSource: src, synced: make(chan struct{})}
	s.mu.Lock()
	s.synced = append(s.synced, t.synced)
	s.mu.Unlock()
	return t
}

// Wait blocks until every source made so far has synced (true), or ctx
// ends (false).
func (s *Sources) Wait(ctx context.Context) bool {
	s.mu.Lock()
	synced := append([]chan struct{}(nil), s.synced...)
	s.mu.Unlock()
	for _, ch := range synced {
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// trackedSource closes synced once its controller has seen it sync.
type trackedSource struct {
	source.SyncingSource
	once   sync.Once
	synced chan struct{}
}

func (t *trackedSource) WaitForSync(ctx context.Context) error {
	err := t.SyncingSource.WaitForSync(ctx)
	if err == nil && ctx.Err() == nil {
		t.once.Do(func() { close(t.synced) })
	}
	return err
}
