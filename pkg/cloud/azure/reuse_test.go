package azure

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
	fakearm "github.com/keyless-dev/keyless/pkg/fakecloud/azure"
)

// TestReadReuse: the drift checks of the ServiceAccounts sharing one
// identity cost one List within ReadReuse; first syncs and removals always
// go to Azure, and a kept listing follows Keyless's own writes.
func TestReadReuse(t *testing.T) {
	sim := newSim()
	o := serve(t, sim)
	o.ReadReuse = time.Minute
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	p.reads.Now = func() time.Time { return now }
	reads := func() int {
		c := sim.Calls()
		return c[fakearm.OpListCredentials] + c[fakearm.OpGetCredential]
	}

	const n = MaxCredentials
	known := make([]cloud.Connection, n)
	for i := range n {
		c := conn("team", fmt.Sprintf("sa-%d", i))
		r, err := p.Ensure(ctx(t), c)
		if err != nil || r.Action != cloud.Created {
			t.Fatalf("first Ensure of %d = %+v, %v", i, r, err)
		}
		c.KnownID = r.ID
		known[i] = c
	}

	t.Logf("after creation %v", sim.Calls())
	now = now.Add(time.Minute) // whatever the first syncs left has expired
	before := reads()
	for _, c := range known {
		if r, err := p.Ensure(ctx(t), c); err != nil || r.Action != cloud.Unchanged {
			t.Fatalf("drift check = %+v, %v; want Unchanged", r, err)
		}
	}
	t.Logf("calls %v", sim.Calls())
	if got := reads() - before; got != 1 {
		t.Errorf("%d reads for %d drift checks, want 1 List", got, n)
	}

	// A removal goes to Azure, and the kept listing follows it: the removed
	// credential's next drift check writes it again.
	if r, err := p.Remove(ctx(t), known[0]); err != nil || r.Action != cloud.Deleted {
		t.Fatalf("Remove = %+v, %v", r, err)
	}
	puts := sim.Calls()[fakearm.OpPutCredential]
	if r, err := p.Ensure(ctx(t), known[0]); err != nil || r.Action != cloud.Created {
		t.Fatalf("drift check after the removal = %+v, %v; want Created", r, err)
	}
	if sim.Calls()[fakearm.OpPutCredential] != puts+1 {
		t.Error("the removed credential was not written again")
	}

	// Drift made out of band is repaired once the kept listing expires.
	for _, c := range sim.Credentials(testSub, testRG, testUAMI) {
		sim.DeleteCredential(testSub, testRG, testUAMI, c.Name)
	}
	now = now.Add(time.Minute)
	if r, err := p.Ensure(ctx(t), known[1]); err != nil || r.Action != cloud.Created {
		t.Fatalf("drift check after an out-of-band removal = %+v, %v; want Created", r, err)
	}
}
