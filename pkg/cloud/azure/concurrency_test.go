package azure

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

const sharing = 10 // ServiceAccounts sharing one identity

func TestConcurrentEnsureOneIdentity(t *testing.T) {
	e := newEnv(t, nil)
	// Each write holds the identity a while, so unserialised writes would overlap.
	e.sim.SetWriteWindow(5 * time.Millisecond)
	errs := make([]error, sharing)
	var wg sync.WaitGroup
	for i := range sharing {
		wg.Go(func() { _, errs[i] = e.p.Ensure(ctx(t), conn("ns", fmt.Sprintf("sa-%d", i))) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("sa-%d: %v", i, err)
		}
	}
	if n := len(e.sim.Credentials(testSub, testRG, testUAMI)); n != sharing {
		t.Errorf("%d credentials, want %d", n, sharing)
	}
	if n := e.sim.Overlaps(); n != 0 {
		t.Errorf("the simulator saw %d overlapping writes", n)
	}
}

func TestConvergesUnderFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults fakecloud.Faults
	}{
		{"throttling and server errors", fakecloud.Faults{Throttle: 0.2, ServerError: 0.05}},
		{"and concurrent-write conflicts", fakecloud.Faults{Throttle: 0.2, ServerError: 0.05, Conflict: 0.2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.sim.SetFaults(tt.faults)
			transient := runAll(t, e.p.Ensure)
			got := map[string]int{}
			for _, c := range e.sim.Credentials(testSub, testRG, testUAMI) {
				got[c.Subject]++
			}
			for i := range sharing {
				if s := subject("ns", fmt.Sprintf("sa-%d", i)); got[s] != 1 {
					t.Errorf("%d credentials for %s, want 1", got[s], s)
				}
			}
			if len(got) != sharing {
				t.Errorf("credentials for %d subjects, want %d", len(got), sharing)
			}
			if transient == 0 {
				t.Error("no transient error seen; the faults were not exercised")
			}
			runAll(t, e.p.Remove)
			if n := len(e.sim.Credentials(testSub, testRG, testUAMI)); n != 0 {
				t.Errorf("%d credentials after removing all, want 0", n)
			}
		})
	}
}

// runAll runs op for every sharing ServiceAccount concurrently, each until
// done, and returns how many transient errors were retried.
func runAll(t *testing.T, op func(context.Context, cloud.Connection) (cloud.Result, error)) int {
	t.Helper()
	cx := ctx(t)
	var mu sync.Mutex
	transient := 0
	var wg sync.WaitGroup
	for i := range sharing {
		wg.Go(func() {
			c := conn("ns", fmt.Sprintf("sa-%d", i))
			_, seen, err := untilDone(t, func() (cloud.Result, error) { return op(cx, c) })
			if err != nil {
				t.Errorf("sa-%d: %v", i, err)
			}
			mu.Lock()
			transient += len(seen)
			mu.Unlock()
		})
	}
	wg.Wait()
	return transient
}
