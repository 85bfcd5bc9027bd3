package gcp

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

// TestConcurrentEnsure adds n members to one service account from several
// goroutines, sharing one provider (its queue groups them into few writes)
// or one per goroutine (like replicas: only the etag and the 409 retry
// protect them).
func TestConcurrentEnsure(t *testing.T) {
	tests := []struct {
		name      string
		providers int // 1: shared
		conflict  float64
		n         int
		maxSets   int // 0: no bound
	}{
		// How many go together depends on the scheduler; batch_test.go
		// holds the first write to check the grouping itself. Here: every
		// member exactly once, and never more writes than members.
		{name: "shared provider", providers: 1, n: 10, maxSets: 10},
		{name: "shared provider, 30% forced conflicts", providers: 1, conflict: 0.3, n: 20},
		{name: "a provider each", providers: 10, n: 10},
		{name: "a provider each, 30% forced conflicts", providers: 10, conflict: 0.3, n: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{WorkloadPool: pool, MaxAttempts: 30, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
			var answers statuses
			p, sim := newEnvWith(t, opts, answers.wrap)
			seed(t, sim, tokenCreator, condOther)
			ps := []*Provider{p}
			for range tt.providers - 1 {
				q, err := newProvider(p.api, opts)
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, q)
			}
			sim.SetFaults(fakecloud.Faults{Conflict: tt.conflict})
			var wg sync.WaitGroup
			errs := make([]error, tt.n)
			for i := range tt.n {
				wg.Go(func() {
					_, errs[i] = ps[i%len(ps)].Ensure(t.Context(), conn(fmt.Sprintf("app-%d", i)))
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Ensure app-%d: %v", i, err)
				}
			}
			after := policy(t, sim)
			for i := range tt.n {
				if c := count(after, ksa(fmt.Sprintf("app-%d", i))); c != 1 {
					t.Errorf("app-%d granted %d times, want once", i, c)
				}
			}
			if len(after.Bindings) != 3 || !after.HasConditions() || after.Version != 3 {
				t.Errorf("policy = %+v, want the grant plus both seeded bindings at version 3", after)
			}
			sets := sim.Calls()[fakegcp.OpSetIamPolicy]
			if tt.maxSets > 0 && sets > tt.maxSets {
				t.Errorf("set calls = %d for %d members, want at most %d", sets, tt.n, tt.maxSets)
			}
			if tt.conflict > 0 && answers.count(http.StatusConflict) == 0 {
				t.Error("no 409 answered: the forced conflicts were not exercised")
			}
		})
	}
}

func TestEnsureManyOneWrite(t *testing.T) {
	p, sim := newEnv(t, Options{})
	seed(t, sim, fakegcp.Binding{Role: Role, Members: []string{ksa("b")}})
	subjects := []cloud.Subject{subject("a"), subject("b"), subject("c"), subject("d"), subject("e")}
	want := []cloud.Action{cloud.Created, cloud.Adopted, cloud.Created, cloud.Created, cloud.Created}

	got, err := p.EnsureMany(t.Context(), gsa, subjects)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if r.Action != want[i] || r.ID != gsa+" "+ksa(subjects[i].Name) {
			t.Errorf("result %d = %+v, want %s for %s", i, r, want[i], subjects[i].Name)
		}
	}
	if calls := sim.Calls(); calls[fakegcp.OpGetIamPolicy] != 1 || calls[fakegcp.OpSetIamPolicy] != 1 {
		t.Errorf("calls = %v, want one get and one set for %d members", calls, len(subjects))
	}

	again, err := p.EnsureMany(t.Context(), gsa, subjects)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if r.Action != cloud.Adopted {
			t.Errorf("second result %d = %s, want Adopted (there before the call)", i, r.Action)
		}
	}
	if n := sim.Calls()[fakegcp.OpSetIamPolicy]; n != 1 {
		t.Errorf("set calls after the second EnsureMany = %d, want still 1", n)
	}
}
