package controller

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// syncResult is an event source whose WaitForSync returns err once ctx
// ends or at once.
type syncResult struct {
	err   error
	block bool
}

func (syncResult) Start(context.Context, workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	return nil
}

func (s syncResult) WaitForSync(ctx context.Context) error {
	if s.block {
		<-ctx.Done()
		return nil // as controller-runtime's Kind does when ctx is cancelled
	}
	return s.err
}

// TestSourcesSyncOnlyOnSuccess: Sources.Wait returns true only once every
// tracked source has synced; a failed sync, or one cut short by its
// context, is not a sync.
func TestSourcesSyncOnlyOnSuccess(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sources []syncResult
		want    bool
	}{
		{"none", nil, true},
		{"all synced", []syncResult{{}, {}}, true},
		{"one failed", []syncResult{{}, {err: errors.New("handler did not sync")}}, false},
		{"one cancelled", []syncResult{{block: true}, {}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sources{}
			for _, src := range tc.sources {
				tracked := s.Track(src)
				ctx, cancel := context.WithCancel(t.Context())
				cancel() // the blocking source's controller is stopped
				if !src.block {
					ctx = t.Context()
				}
				_ = tracked.WaitForSync(ctx)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			if got := s.Wait(ctx); got != tc.want {
				t.Fatalf("Wait = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestUntrackedKind: a nil *Sources hands out plain sources.
func TestUntrackedKind(t *testing.T) {
	var s *Sources
	if _, ok := s.kind(nil, nil, nil).(*trackedSource); ok {
		t.Fatal("a nil *Sources tracked a source")
	}
}
