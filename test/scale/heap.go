package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/keyless-dev/keyless/pkg/manager"
)

// runHeap populates the cluster as --mode=memory does, then runs this
// tree's manager in this process, configured as `keyless serve` is, until
// its caches have synced and it leads. After --settle it writes a heap
// profile (--heap-profile) and reports the live heap that the manager
// added, per cached object. Read the profile with
// `go tool pprof -top -sample_index=inuse_space`.
func runHeap(ctx context.Context, h *harness, c config) (string, error) {
	nss, size, err := populate(ctx, h, c)
	if err != nil {
		return "", err
	}
	before := liveHeap()
	kc := h.Devenv.KeylessConfig()
	kc.HealthAddr, kc.MetricsAddr = "0", "0"
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	mgr, err := manager.New(mctx, kc, h.Rest, logr.Discard())
	if err != nil {
		return "", err
	}
	peak := watchPeak(mctx, c.HeapProfile+".peak")
	errc := make(chan error, 1)
	go func() { errc <- mgr.Start(mctx) }()
	if !mgr.GetCache().WaitForCacheSync(mctx) {
		return "", errors.New("the caches did not sync")
	}
	synced := time.Since(start)
	select {
	case <-mgr.Elected():
	case err := <-errc:
		return "", fmt.Errorf("the manager stopped: %w", err)
	case <-time.After(time.Minute):
		return "", errors.New("not elected within a minute")
	}
	c.Logf("heap: caches synced after %s; leading; settling for %s", synced.Round(time.Millisecond), c.Settle)
	time.Sleep(c.Settle)
	maxLive, maxHeap := peak()
	after := liveHeap()
	f, err := os.Create(c.HeapProfile)
	if err != nil {
		return "", err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	objects := c.ServiceAccounts + c.Deployments + len(nss)
	var b strings.Builder
	fmt.Fprintf(&b, "heap: serviceaccounts=%d deployments=%d connected=%d namespaces=%d deployment-json=%d B avg\n",
		c.ServiceAccounts, c.Deployments, c.Annotated, len(nss), size)
	fmt.Fprintf(&b, "caches synced %s after manager.New\n", synced.Round(time.Millisecond))
	fmt.Fprintf(&b, "live heap before the manager %.1f MiB, with it %.1f MiB: %.1f MiB added, %.0f B per cached object (%d objects)\n",
		mib(before), mib(after), mib(after-before), float64(after-before)/float64(objects), objects)
	fmt.Fprintf(&b, "largest live heap after a collection %.1f MiB, largest heap %.1f MiB (profile at the largest live heap: %s.peak)\n",
		mib(maxLive), mib(maxHeap), c.HeapProfile)
	fmt.Fprintf(&b, "heap profile: %s (go tool pprof -top -sample_index=inuse_space %s)\n", c.HeapProfile, c.HeapProfile)
	return b.String(), nil
}

// watchPeak samples the runtime's heap every 20 ms until ctx ends and
// writes a heap profile to path each time the live heap (as the last
// collection found it) grows by a tenth; it returns a function that stops
// the sampling and gives the largest live heap and heap seen.
func watchPeak(ctx context.Context, path string) func() (live, heap uint64) {
	ctx, cancel := context.WithCancel(ctx)
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	var maxLive, maxHeap, written uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			metrics.Read(samples)
			live, heap := samples[0].Value.Uint64(), samples[1].Value.Uint64()
			maxLive, maxHeap = max(maxLive, live), max(maxHeap, heap)
			if live > written+written/10 {
				if f, err := os.Create(path); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					_ = f.Close()
					written = live
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() (uint64, uint64) {
		cancel()
		<-done
		return maxLive, maxHeap
	}
}

// liveHeap is the heap in use after two collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
