package manager

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/keyless-dev/keyless/pkg/controller"
)

// replayingSource is an event source whose replay ends when release is
// closed.
type replayingSource struct{ release chan struct{} }

func (replayingSource) Start(context.Context, workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	return nil
}

func (r replayingSource) WaitForSync(ctx context.Context) error {
	select {
	case <-r.release:
	case <-ctx.Done():
	}
	return nil
}

// replaying adds to s a source that a controller waits for, as
// controller-runtime does when it starts; the source syncs when the
// returned function is called.
func replaying(t *testing.T, s *controller.Sources) (release func()) {
	src := replayingSource{release: make(chan struct{})}
	tracked := s.Track(src)
	go func() { _ = tracked.WaitForSync(t.Context()) }()
	return func() { close(src.release) }
}

// fakeGOGC records what lowGC sets, as debug.SetGCPercent would.
type fakeGOGC struct{ v int }

func (f *fakeGOGC) set(n int) int { prev := f.v; f.v = n; return prev }

// TestLowGCPhasesNest: overlapping phases (the caches' sync on every
// replica, the controllers' replay on the leader) keep GOGC low until the
// last one ends, then put back the GOGC of before; a lower one, or off,
// stays throughout.
func TestLowGCPhasesNest(t *testing.T) {
	for _, tc := range []struct {
		name         string
		before, want int
	}{
		{"default", 100, syncGCPercent},
		{"higher", 400, syncGCPercent},
		{"lower already", 10, 10},
		{"equal", syncGCPercent, syncGCPercent},
		{"off", -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeGOGC{v: tc.before}
			g := &lowGC{set: f.set}
			steps := []struct {
				do   func()
				want int
			}{
				{g.enter, tc.want},
				{g.enter, tc.want},
				{g.exit, tc.want},
				{g.exit, tc.before},
				{g.enter, tc.want}, // a later phase: a new election
				{g.exit, tc.before},
			}
			for i, s := range steps {
				s.do()
				if f.v != s.want {
					t.Fatalf("step %d: GOGC %d, want %d", i, f.v, s.want)
				}
			}
		})
	}
}

// TestLowGCWhileReplaying: the leader's runnable holds GOGC low until the
// controllers' sources have synced, and lets go when its context ends.
func TestLowGCWhileReplaying(t *testing.T) {
	f := &fakeGOGC{v: 100}
	g := &lowGC{set: f.set}
	// run starts the runnable on sources and returns a channel closed
	// when it returns.
	run := func(ctx context.Context, sources *controller.Sources) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			_ = lowGCWhileReplaying(g, sources)(ctx)
			close(done)
		}()
		return done
	}
	// returned waits for done, then checks that GOGC is back at 100.
	returned := func(done <-chan struct{}, after string) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("still waiting after %s", after)
		}
		if f.v != 100 {
			t.Fatalf("GOGC %d after %s, want 100", f.v, after)
		}
	}

	sources := &controller.Sources{}
	release := replaying(t, sources)
	done := run(context.Background(), sources)
	eventually(t, time.Second, func() error {
		g.mu.Lock()
		defer g.mu.Unlock()
		if f.v != syncGCPercent {
			return fmt.Errorf("GOGC %d while the sources replay, want %d", f.v, syncGCPercent)
		}
		return nil
	})
	release()
	returned(done, "the sources synced")

	ctx, cancel := context.WithCancel(context.Background())
	stuck := &controller.Sources{}
	replaying(t, stuck)
	done = run(ctx, stuck)
	cancel()
	returned(done, "the context ended")
}
