package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

// TestConverges: with a flaky cloud, retried Ensures of 20 ServiceAccounts
// at once end with exactly one Keyless association each.
func TestConverges(t *testing.T) {
	const accounts, maxTries = 20, 60
	e := newEnv(t, nil)
	e.sim.SetFaults(fakecloud.Faults{Throttle: 0.2, ServerError: 0.05})
	var wg sync.WaitGroup
	var throttled atomic.Int32
	ids := make([]string, accounts) // as the controller records them
	for i := range accounts {
		wg.Go(func() {
			c := conn("ns", fmt.Sprintf("sa-%d", i), role("orders"))
			for try := 1; ; try++ {
				res, err := e.p.Ensure(context.Background(), c)
				if err == nil {
					ids[i] = res.ID
					return
				}
				if errors.Is(err, cloud.ErrThrottled) {
					throttled.Add(1)
				}
				if cloud.Permanent(err) || try == maxTries {
					t.Errorf("%s after %d tries: %v", c.Subject.Name, try, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if throttled.Load() == 0 {
		t.Error("no Ensure was throttled; the faults did not bite")
	}
	e.sim.SetFaults(fakecloud.Faults{})
	got := e.sim.Associations()
	if len(got) != accounts {
		t.Fatalf("%d associations, want %d", len(got), accounts)
	}
	seen := map[string]bool{}
	for _, a := range got {
		if seen[a.ServiceAccount] || a.RoleARN != roleARN("orders") || a.Tags[TagManagedBy] != ManagedByValue {
			t.Errorf("unexpected association %+v", a)
		}
		seen[a.ServiceAccount] = true
	}
	for i := range accounts {
		c := conn("ns", fmt.Sprintf("sa-%d", i), role("orders"))
		c.KnownID = ids[i]
		if res := e.mustEnsure(t, c); res.Action != cloud.Unchanged {
			t.Errorf("sa-%d: %s once the cloud is calm, want Unchanged", i, res.Action)
		}
	}
	if n := e.sim.Calls()["UpdatePodIdentityAssociation"]; n != 0 {
		t.Errorf("%d updates, want none", n)
	}
}
