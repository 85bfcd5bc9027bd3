package manager

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/keyless-dev/keyless/pkg/controller"
)

// syncGCPercent is the garbage collector's GOGC while Keyless fills or
// replays its caches. The initial lists decode every object of the cluster
// whole before the transforms keep a few hundred bytes of each, and when
// the leader's controllers start, every cached ServiceAccount and workload
// is queued as an event for each of the controllers that watch them, so
// the heap then holds much that is about to be garbage. At the default of
// 100 the heap may grow to twice that; the start-up peak, not the steady
// state, is what the container's limit must cover.
const syncGCPercent = 25

// lowGC holds GOGC at syncGCPercent while at least one phase that fills or
// replays the caches is under way, then puts back what it was. A GOGC that
// was lower already, or off, stays.
type lowGC struct {
	mu    sync.Mutex
	set   func(int) int
	depth int
	prev  int
}

// collector is the process's garbage collector.
var collector = &lowGC{set: debug.SetGCPercent}

func (g *lowGC) enter() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.depth == 0 {
		g.prev = g.set(syncGCPercent)
		if g.prev <= syncGCPercent {
			g.set(g.prev) // lower already, or off (-1)
		}
	}
	g.depth++
}

func (g *lowGC) exit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.depth--
	if g.depth == 0 && g.prev > syncGCPercent {
		g.set(g.prev)
	}
}

// replayTimeout bounds the leader's wait for its controllers' event
// sources; a controller whose sources do not sync stops the manager
// before that (controller-runtime's own limit is two minutes).
const replayTimeout = 3 * time.Minute

// lowGCWhileReplaying is a runnable for the elected leader: from the
// election until the controllers' event sources have synced (their replay
// of the cache has been delivered), the collector works harder.
func lowGCWhileReplaying(g *lowGC, sources *controller.Sources) func(context.Context) error {
	return func(ctx context.Context) error {
		g.enter()
		defer g.exit()
		ctx, cancel := context.WithTimeout(ctx, replayTimeout)
		defer cancel()
		sources.Wait(ctx)
		return nil
	}
}
