package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/batch"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	fakearm "github.com/keyless-dev/keyless/pkg/fakecloud/azure"
)

// TestBatchedEnsures: ServiceAccounts sharing an identity and arriving
// together share one listing and one identity lookup, also on resync.
func TestBatchedEnsures(t *testing.T) {
	const n = 20
	e := newEnv(t, nil)
	e.sim.SetFaults(fakecloud.Faults{Latency: time.Millisecond})
	e.sim.SetWriteWindow(2 * time.Millisecond)
	// A listing of 11 to 20 credentials is two pages.
	steps := []struct {
		name      string
		want      cloud.Action
		wantCalls map[string]int // at most, except puts: exactly
	}{
		{name: "create", want: cloud.Created, wantCalls: map[string]int{
			fakearm.OpGetIdentity: 2, fakearm.OpListCredentials: 6, fakearm.OpGetCredential: 2, fakearm.OpPutCredential: n}},
		{name: "resync", want: cloud.Unchanged, wantCalls: map[string]int{
			fakearm.OpGetIdentity: 0, fakearm.OpListCredentials: 6, fakearm.OpGetCredential: 3, fakearm.OpPutCredential: 0}},
	}
	var results []cloud.Result
	for _, s := range steps {
		before := e.sim.Calls()
		var errs []error
		results, errs = ensureAll(e.p, n, results)
		for i := range n {
			if errs[i] != nil || results[i].Action != s.want || results[i].ClientID != testClientID {
				t.Errorf("%s sa-%d: %+v, %v; want %s", s.name, i, results[i], errs[i], s.want)
			}
		}
		calls := diff(e.sim.Calls(), before)
		t.Logf("%s, %d ServiceAccounts: %v", s.name, n, calls)
		for op, most := range s.wantCalls {
			if op == fakearm.OpPutCredential && calls[op] != most || calls[op] > most {
				t.Errorf("%s: %d %s calls, want at most %d (puts: exactly)", s.name, calls[op], op, most)
			}
		}
	}
	if got := len(e.sim.Credentials(testSub, testRG, testUAMI)); got != n {
		t.Errorf("%d credentials, want %d", got, n)
	}
}

// TestLimitInBatch: the 20 credentials per identity hold across a batch,
// counted with the batch's own writes, without a PUT beyond the limit; a
// lone Ensure's PUT beyond it is refused by Azure.
func TestLimitInBatch(t *testing.T) {
	tests := []struct {
		name        string
		others      int // foreign credentials first
		at          int // Ensures at once
		wantCreated int
	}{
		{name: "25 at once", at: 25, wantCreated: 20},
		{name: "15 others, 10 at once", others: 15, at: 10, wantCreated: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			seedOthers(tt.others)(t, e)
			results, errs := ensureAll(e.p, tt.at, nil)
			created, limited := 0, 0
			for i := range tt.at {
				switch {
				case errs[i] == nil && results[i].Action == cloud.Created:
					created++
				case errors.Is(errs[i], cloud.ErrLimit):
					limited++
				default:
					t.Errorf("sa-%d: %+v, %v; want Created or ErrLimit", i, results[i], errs[i])
				}
			}
			if created != tt.wantCreated || limited != tt.at-tt.wantCreated {
				t.Errorf("%d created and %d at the limit, want %d and %d", created, limited, tt.wantCreated, tt.at-tt.wantCreated)
			}
			// Only an Ensure alone in its batch tries a PUT that Azure refuses.
			puts := e.puts()
			if puts < tt.wantCreated || puts > tt.wantCreated+limited {
				t.Errorf("%d PUTs, want %d and at most one for each at the limit", puts, tt.wantCreated)
			}
			if got := len(e.sim.Credentials(testSub, testRG, testUAMI)); got != MaxCredentials {
				t.Errorf("%d credentials, want %d", got, MaxCredentials)
			}
			_, err := e.p.Ensure(ctx(t), conn("ns", "one-more"))
			if !errors.Is(err, cloud.ErrLimit) || e.puts() != puts+1 {
				t.Errorf("one more: %v after %d PUTs; want ErrLimit after one refused PUT", err, e.puts()-puts)
			}
			if got := len(e.sim.Credentials(testSub, testRG, testUAMI)); got != MaxCredentials {
				t.Errorf("one more: %d credentials, want %d", got, MaxCredentials)
			}
		})
	}
}

// TestMixedBatch queues Ensures and Removes behind a write in flight; the
// next batch handles them in order with one listing and no reads by name.
func TestMixedBatch(t *testing.T) {
	g := newGate(t, http.MethodDelete)
	e := newEnv(t, g.wrap)
	for _, sa := range []string{"same", "drop"} {
		if _, err := e.p.Ensure(ctx(t), conn("ns", sa)); err != nil {
			t.Fatal(err)
		}
	}
	e.seed(t, "made-by-hand", testIssuer, subject("ns", "foreign"))
	e.seed(t, CredentialName(testCluster, "ns", "drift"), testIssuer, subject("ns", "other"))
	seedOthers(15)(t, e) // 19 credentials, one short of the limit

	first := start(e.p.Remove, conn("ns", "nothing"))
	g.arrived(t)
	before := e.sim.Calls()
	steps := []struct {
		op   func(context.Context, cloud.Connection) (cloud.Result, error)
		sa   string
		want cloud.Action
	}{
		{e.p.Ensure, "same", cloud.Unchanged},
		{e.p.Ensure, "new-1", cloud.Created}, // the 20th
		{e.p.Remove, "drop", cloud.Deleted},
		{e.p.Ensure, "new-2", cloud.Created}, // in the place drop left
		{e.p.Ensure, "foreign", cloud.Adopted},
		{e.p.Remove, "foreign", cloud.Absent}, // adopted, so left alone
		{e.p.Ensure, "drift", cloud.Updated},
	}
	var done []chan outcome
	for i, s := range steps {
		done = append(done, start(s.op, conn("ns", s.sa)))
		waitQueued(t, &e.p.batches, identityKey(), i+1)
	}
	g.open(3)
	if o := <-first; o.err != nil || o.res.Action != cloud.Absent {
		t.Errorf("first Remove = %+v, %v; want Absent", o.res, o.err)
	}
	for i, s := range steps {
		if o := <-done[i]; o.err != nil || o.res.Action != s.want {
			t.Errorf("step %d on %s = %+v, %v; want %s", i, s.sa, o.res, o.err, s.want)
		}
	}
	want := map[string]int{fakearm.OpListCredentials: 2, fakearm.OpPutCredential: 3, fakearm.OpDeleteCredential: 3}
	if calls := diff(e.sim.Calls(), before); fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("calls = %v, want %v (one listing of two pages, no reads by name)", calls, want)
	}
	if got := len(e.sim.Credentials(testSub, testRG, testUAMI)); got != MaxCredentials {
		t.Errorf("%d credentials, want %d", got, MaxCredentials)
	}
}

// TestWholeIdentityErrorStopsBatch: once Azure says the identity is gone,
// the rest of the batch is not sent, and each caller still gets its answer.
func TestWholeIdentityErrorStopsBatch(t *testing.T) {
	g := newGate(t, http.MethodDelete)
	e := newEnv(t, g.wrap)
	ensureOnce(t, e)
	first := start(e.p.Remove, conn("ns", "nothing"))
	g.arrived(t)
	e.sim.RemoveIdentity(testSub, testRG, testUAMI)
	before := e.sim.Calls()
	ensures := []chan outcome{start(e.p.Ensure, conn("ns", "a"))}
	waitQueued(t, &e.p.batches, identityKey(), 1)
	ensures = append(ensures, start(e.p.Ensure, conn("ns", "b")))
	waitQueued(t, &e.p.batches, identityKey(), 2)
	remove := start(e.p.Remove, conn("ns", "app"))
	waitQueued(t, &e.p.batches, identityKey(), 3)
	g.open(1)
	<-first
	for i, ch := range ensures {
		if o := <-ch; !errors.Is(o.err, cloud.ErrNotFound) {
			t.Errorf("Ensure %d = %+v, %v; want ErrNotFound", i, o.res, o.err)
		}
	}
	if o := <-remove; o.err != nil || o.res.Action != cloud.Absent {
		t.Errorf("Remove = %+v, %v; want Absent", o.res, o.err)
	}
	// The first Remove's DELETE found the identity gone, so its client ID
	// is read again, and that answer stops the batch.
	want := map[string]int{fakearm.OpDeleteCredential: 1, fakearm.OpGetIdentity: 1}
	if calls := diff(e.sim.Calls(), before); fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
}

func TestClientIDExpires(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now()
	e.p.now = func() time.Time { return now }
	for _, s := range []struct {
		after   time.Duration
		wantGet int
	}{{0, 1}, {clientIDTTL - time.Minute, 1}, {2 * time.Minute, 2}} {
		now = now.Add(s.after)
		if _, err := e.p.Ensure(ctx(t), conn("ns", fmt.Sprint("sa-", s.after))); err != nil {
			t.Fatal(err)
		}
		if n := e.sim.Calls()[fakearm.OpGetIdentity]; n != s.wantGet {
			t.Errorf("%v later: %d identity lookups, want %d", s.after, n, s.wantGet)
		}
	}
}

// TestQueuedRemoveGivesUp: a Remove whose caller leaves while it is queued
// deletes nothing; the rest of its batch goes on.
func TestQueuedRemoveGivesUp(t *testing.T) {
	g := newGate(t, http.MethodDelete)
	e := newEnv(t, g.wrap)
	ensureOnce(t, e)
	first := start(e.p.Remove, conn("ns", "nothing"))
	g.arrived(t)
	c, cancel := context.WithCancel(ctx(t))
	quitter := start(func(_ context.Context, cn cloud.Connection) (cloud.Result, error) { return e.p.Remove(c, cn) }, conn("ns", "app"))
	waitQueued(t, &e.p.batches, identityKey(), 1)
	stayer := start(e.p.Ensure, conn("ns", "new"))
	waitQueued(t, &e.p.batches, identityKey(), 2)
	cancel()
	if o := <-quitter; !errors.Is(o.err, context.Canceled) {
		t.Errorf("quitter = %+v, %v; want context.Canceled", o.res, o.err)
	}
	g.open(1)
	<-first
	if o := <-stayer; o.err != nil || o.res.Action != cloud.Created {
		t.Errorf("stayer = %+v, %v; want Created", o.res, o.err)
	}
	if _, ok := e.ours("ns", "app"); !ok {
		t.Error("the abandoned Remove deleted the credential")
	}
}

// ensureAll runs Ensure for ServiceAccounts ns/sa-0 .. sa-(n-1) at once,
// with the IDs of known, if given, as the controller passes them.
func ensureAll(p *Provider, n int, known []cloud.Result) ([]cloud.Result, []error) {
	results, errs := make([]cloud.Result, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		c := conn("ns", fmt.Sprintf("sa-%d", i))
		if known != nil {
			c.KnownID = known[i].ID
		}
		wg.Go(func() { results[i], errs[i] = p.Ensure(context.Background(), c) })
	}
	wg.Wait()
	return results, errs
}

func diff(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for op, n := range after {
		if d := n - before[op]; d != 0 {
			out[op] = d
		}
	}
	return out
}

// identityKey is the batch key of the test identity.
func identityKey() string { return strings.ToLower(testSub + "/" + testRG + "/" + testUAMI) }

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

// waitQueued waits until n calls for key wait behind the batch in flight.
func waitQueued[R any](t *testing.T, b *batch.Batcher[R], key string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if b.Queued(key) == n {
			return
		}
	}
	t.Fatalf("%d calls never queued for %s", n, key)
}

// gate holds each request of one method until the test lets it through.
type gate struct {
	method         string
	in, pass, stop chan struct{}
}

func newGate(t *testing.T, method string) *gate {
	g := &gate{method: method, in: make(chan struct{}, 100), pass: make(chan struct{}, 100), stop: make(chan struct{})}
	t.Cleanup(func() { close(g.stop) }) // before the server's Close, which waits for handlers
	return g
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == g.method {
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

func (g *gate) arrived(t *testing.T) {
	t.Helper()
	select {
	case <-g.in:
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s arrived", g.method)
	}
}

func (g *gate) open(n int) {
	for range n {
		g.pass <- struct{}{}
	}
}
