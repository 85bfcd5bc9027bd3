package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/batch"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

// TestGroupCommit: many ServiceAccounts of one Google service account,
// arriving together, share a few read-modify-writes, and each member is
// granted exactly once, also when other writers keep moving the etag.
func TestGroupCommit(t *testing.T) {
	tests := []struct {
		name     string
		conflict float64
		maxCalls int // gets and sets
	}{
		{name: "50 at once", maxCalls: 20},
		{name: "50 at once, 30% forced conflicts", conflict: 0.3, maxCalls: 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 50
			var answers statuses
			p, sim := newEnvWith(t, Options{MaxAttempts: 30}, answers.wrap)
			seed(t, sim, tokenCreator, condOther)
			sim.SetFaults(fakecloud.Faults{Conflict: tt.conflict, Latency: time.Millisecond})
			results := make([]cloud.Result, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { results[i], errs[i] = p.Ensure(t.Context(), conn(fmt.Sprintf("app-%d", i))) })
			}
			wg.Wait()

			after := policy(t, sim)
			for i := range n {
				m := ksa(fmt.Sprintf("app-%d", i))
				if errs[i] != nil || results[i].Action != cloud.Created || results[i].ID != gsa+" "+m {
					t.Errorf("app-%d: %+v, %v; want Created", i, results[i], errs[i])
				}
				if c := count(after, m); c != 1 {
					t.Errorf("app-%d granted %d times, want once", i, c)
				}
			}
			if len(after.Bindings) != 3 || !after.HasConditions() {
				t.Errorf("policy = %+v, want the grant plus both seeded bindings", after)
			}
			calls := sim.Calls()
			total := calls[fakegcp.OpGetIamPolicy] + calls[fakegcp.OpSetIamPolicy]
			t.Logf("%d members: %v, %d answered 409", n, calls, answers.count(http.StatusConflict))
			if total > tt.maxCalls {
				t.Errorf("%d IAM calls for %d members (%v), want at most %d", total, n, calls, tt.maxCalls)
			}
			if tt.conflict > 0 && answers.count(http.StatusConflict) == 0 {
				t.Error("no 409 answered: the forced conflicts were not exercised")
			}
		})
	}
}

// TestMixedBatch queues grants and revocations behind a read-modify-write
// in flight; the next one applies them all, in order, with one write.
func TestMixedBatch(t *testing.T) {
	g := newGate(t)
	p, sim := newEnvWith(t, Options{}, g.wrap)
	seed(t, sim, tokenCreator, fakegcp.Binding{Role: Role, Members: []string{ksa("keep"), ksa("old-1"), ksa("old-2")}}, condGrant)
	before := policy(t, sim)

	// In flight, and making no change: it must not write.
	first := start(p.Ensure, conn("keep"))
	g.arrived(t)
	steps := []struct {
		op   func(context.Context, cloud.Connection) (cloud.Result, error)
		sa   string
		want cloud.Action
	}{
		{p.Ensure, "new-1", cloud.Created},
		{p.Remove, "old-1", cloud.Deleted},
		{p.Ensure, "keep", cloud.Adopted},
		{p.Ensure, "flip", cloud.Created},
		{p.Remove, "flip", cloud.Deleted},
		{p.Remove, "never", cloud.Absent},
		{p.Ensure, "new-2", cloud.Created},
		{p.Ensure, "new-2", cloud.Created}, // the same member twice: granted once, by this write
		{p.Remove, "old-2", cloud.Deleted},
		{p.Remove, "batch", cloud.Absent}, // only conditionally granted: not ours
	}
	var done []chan outcome
	for i, s := range steps {
		done = append(done, start(s.op, conn(s.sa)))
		waitQueued(t, &p.batches, gsa, i+1)
	}
	g.open(2)
	if o := <-first; o.err != nil || o.res.Action != cloud.Adopted {
		t.Errorf("first Ensure = %+v, %v; want Adopted", o.res, o.err)
	}
	for i, s := range steps {
		if o := <-done[i]; o.err != nil || o.res.Action != s.want || o.res.ID != gsa+" "+ksa(s.sa) {
			t.Errorf("step %d on %s = %+v, %v; want %s", i, s.sa, o.res, o.err, s.want)
		}
	}
	if calls := sim.Calls(); calls[fakegcp.OpGetIamPolicy] != 2 || calls[fakegcp.OpSetIamPolicy] != 1 {
		t.Errorf("calls = %v, want 2 gets and 1 set", calls)
	}
	after := policy(t, sim)
	if got, want := grants(after), []string{ksa("keep"), ksa("new-1"), ksa("new-2")}; !slices.Equal(got, want) {
		t.Errorf("granted = %v, want %v", got, want)
	}
	if b, a := others(t, before), others(t, after); b != a {
		t.Errorf("other bindings changed:\n before %s\n after  %s", b, a)
	}
}

// TestBatchErrors: an error about the account reaches every caller of the
// batch, each with its own outcome.
func TestBatchErrors(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*fakegcp.Server)
		wantEnsure error
		wantRemove cloud.Action // "": an error
	}{
		{name: "account gone", setup: func(s *fakegcp.Server) { s.DeleteServiceAccount(gsa) }, wantEnsure: cloud.ErrNotFound, wantRemove: cloud.Absent},
		{name: "permission denied", setup: func(s *fakegcp.Server) { s.Deny(gsa, true) }, wantEnsure: cloud.ErrPermission},
		{name: "pool disabled", setup: func(s *fakegcp.Server) { s.DisablePool(pool) }, wantEnsure: cloud.ErrNotEnabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(t)
			p, sim := newEnvWith(t, Options{}, g.wrap)
			seed(t, sim, fakegcp.Binding{Role: Role, Members: []string{ksa("old")}})
			first := start(p.Ensure, conn("first"))
			g.arrived(t)
			tt.setup(sim)
			ensure := start(p.Ensure, conn("web"))
			waitQueued(t, &p.batches, gsa, 1)
			remove := start(p.Remove, conn("old"))
			waitQueued(t, &p.batches, gsa, 2)
			g.open(2)
			<-first
			if o := <-ensure; !errors.Is(o.err, tt.wantEnsure) || !strings.Contains(fmt.Sprint(o.err), "granting "+Role) {
				t.Errorf("Ensure = %v, want %v", o.err, tt.wantEnsure)
			}
			o := <-remove
			switch {
			case tt.wantRemove != "" && (o.err != nil || o.res.Action != tt.wantRemove):
				t.Errorf("Remove = %+v, %v; want %s", o.res, o.err, tt.wantRemove)
			case tt.wantRemove == "" && !errors.Is(o.err, tt.wantEnsure):
				t.Errorf("Remove = %+v, %v; want %v", o.res, o.err, tt.wantEnsure)
			}
		})
	}
}

// TestCallerGivesUp: a caller whose context ends returns at once; the
// others of its batch are not disturbed. A change still queued is dropped;
// one already being written may be applied.
func TestCallerGivesUp(t *testing.T) {
	tests := []struct {
		name        string
		inFlight    bool // give up once the batch has read the policy
		wantApplied bool
	}{
		{name: "while queued"},
		{name: "while written", inFlight: true, wantApplied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(t)
			p, sim := newEnvWith(t, Options{}, g.wrap)
			first := start(p.Ensure, conn("first"))
			g.arrived(t)
			ctx, cancel := context.WithCancel(t.Context())
			quitter := start(func(_ context.Context, c cloud.Connection) (cloud.Result, error) { return p.Ensure(ctx, c) }, conn("quitter"))
			waitQueued(t, &p.batches, gsa, 1)
			stayer := start(p.Ensure, conn("stayer"))
			waitQueued(t, &p.batches, gsa, 2)
			if tt.inFlight {
				g.open(1)
				g.arrived(t) // the second batch, quitter and stayer, reads the policy
			}
			cancel()
			if o := <-quitter; !errors.Is(o.err, context.Canceled) {
				t.Errorf("quitter = %+v, %v; want context.Canceled", o.res, o.err)
			}
			g.open(2)
			for name, ch := range map[string]chan outcome{"first": first, "stayer": stayer} {
				if o := <-ch; o.err != nil || o.res.Action != cloud.Created {
					t.Errorf("%s = %+v, %v; want Created", name, o.res, o.err)
				}
			}
			if got := count(policy(t, sim), ksa("quitter")) == 1; got != tt.wantApplied {
				t.Errorf("quitter's member granted: %v, want %v", got, tt.wantApplied)
			}
		})
	}
}

type outcome struct {
	res cloud.Result
	err error
}

// start runs op(c) in a goroutine; its outcome arrives on the channel.
func start(op func(context.Context, cloud.Connection) (cloud.Result, error), c cloud.Connection) chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := op(context.Background(), c)
		ch <- outcome{res, err}
	}()
	return ch
}

// waitQueued waits until n changes to key wait behind the batch in flight.
func waitQueued[R any](t *testing.T, b *batch.Batcher[R], key string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if b.Queued(key) == n {
			return
		}
	}
	t.Fatalf("%d changes never queued for %s", n, key)
}

// gate holds each getIamPolicy until the test lets it through.
type gate struct {
	in, pass, stop chan struct{}
}

func newGate(t *testing.T) *gate {
	g := &gate{in: make(chan struct{}, 100), pass: make(chan struct{}, 100), stop: make(chan struct{})}
	t.Cleanup(func() { close(g.stop) }) // before the server's Close, which waits for handlers
	return g
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ":getIamPolicy") {
			g.in <- struct{}{}
			select {
			case <-g.pass:
			case <-g.stop:
			case <-r.Context().Done():
			}
		}
		next.ServeHTTP(w, r)
	})
}

// arrived waits for a held read.
func (g *gate) arrived(t *testing.T) {
	t.Helper()
	select {
	case <-g.in:
	case <-time.After(5 * time.Second):
		t.Fatal("no read of the policy arrived")
	}
}

// open lets n reads through.
func (g *gate) open(n int) {
	for range n {
		g.pass <- struct{}{}
	}
}

// statuses counts the simulator's answers by HTTP status.
type statuses struct {
	mu sync.Mutex
	n  map[int]int
}

func (s *statuses) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.n == nil {
			s.n = map[int]int{}
		}
		s.n[rec.code]++
	})
}

func (s *statuses) count(code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[code]
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}
