package gcp

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

// TestReadReuse: the drift checks of many ServiceAccounts sharing one Google
// service account cost one policy read within ReadReuse; first grants,
// removals and members missing from the read always go to IAM.
func TestReadReuse(t *testing.T) {
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	p, sim := newEnv(t, Options{ReadReuse: time.Minute})
	p.reads.Now = func() time.Time { return now }
	const n = 50
	known := make([]cloud.Connection, n)
	for i := range n {
		c := conn(fmt.Sprintf("sa-%d", i))
		r, err := p.Ensure(t.Context(), c)
		if err != nil || r.Action != cloud.Created {
			t.Fatalf("first Ensure of %d = %+v, %v", i, r, err)
		}
		c.KnownID = r.ID
		known[i] = c
	}
	gets := func() int { return sim.Calls()[fakegcp.OpGetIamPolicy] }

	before := gets()
	for _, c := range known {
		if r, err := p.Ensure(t.Context(), c); err != nil || r.Action != cloud.Adopted {
			t.Fatalf("drift check = %+v, %v; want the member found", r, err)
		}
	}
	// The last write left the policy on record: no read at all.
	if n := gets() - before; n != 0 {
		t.Errorf("%d getIamPolicy calls for %d drift checks right after the grants, want 0", n, len(known))
	}

	now = now.Add(time.Minute)
	before = gets()
	for _, c := range known {
		if _, err := p.Ensure(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	if n := gets() - before; n != 1 {
		t.Errorf("%d getIamPolicy calls for %d drift checks after the read expired, want 1", n, len(known))
	}

	// A first grant, and a removal, read afresh even with a recent read.
	before = gets()
	if _, err := p.Ensure(t.Context(), conn("sa-0")); err != nil {
		t.Fatal(err)
	}
	if r, err := p.Remove(t.Context(), known[1]); err != nil || r.Action != cloud.Deleted {
		t.Fatalf("Remove = %+v, %v", r, err)
	}
	if n := gets() - before; n != 2 {
		t.Errorf("%d getIamPolicy calls for a first grant and a removal, want 2", n)
	}
	// The removal is in the kept read: a drift check of the removed member
	// goes to IAM, and grants it again.
	before = gets()
	if r, err := p.Ensure(t.Context(), known[1]); err != nil || r.Action != cloud.Created {
		t.Fatalf("drift check after the removal = %+v, %v; want Created", r, err)
	}
	if n := gets() - before; n != 1 {
		t.Errorf("%d getIamPolicy calls, want 1", n)
	}

	// Drift made out of band is repaired at the first check after the
	// kept read expires.
	if err := sim.SetPolicy(gsa, fakegcp.Policy{}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if r, err := p.Ensure(t.Context(), known[2]); err != nil || r.Action != cloud.Created {
		t.Fatalf("drift check after an out-of-band removal = %+v, %v; want Created", r, err)
	}
}

func TestReadReuseOff(t *testing.T) {
	p, sim := newEnv(t, Options{})
	c := conn("web")
	r, err := p.Ensure(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	c.KnownID = r.ID
	before := sim.Calls()[fakegcp.OpGetIamPolicy]
	for range 3 {
		if _, err := p.Ensure(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	if n := sim.Calls()[fakegcp.OpGetIamPolicy] - before; n != 3 {
		t.Errorf("%d getIamPolicy calls for 3 drift checks without ReadReuse, want 3", n)
	}
}
