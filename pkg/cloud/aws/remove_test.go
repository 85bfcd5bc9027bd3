package aws

import (
	"context"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

func TestRemove(t *testing.T) {
	c := conn("ns", "sa", role("orders"))
	tests := []struct {
		name      string
		setup     func(*testing.T, *env)
		want      cloud.Action
		wantLeft  int // associations left
		wantCalls int // DeletePodIdentityAssociation calls
	}{
		{"Keyless's: deleted", ensured(c), cloud.Deleted, 0, 1},
		{"Keyless's, other role: deleted all the same", ensured(conn("ns", "sa", role("old"))), cloud.Deleted, 0, 1},
		{"nothing: absent", nil, cloud.Absent, 0, 0},
		{"someone else's: left alone", seeded(roleARN("orders"), nil), cloud.Absent, 1, 0},
		{"another cluster's Keyless's: left alone",
			seeded(roleARN("orders"), map[string]string{TagManagedBy: ManagedByValue, TagCluster: "staging"}), cloud.Absent, 1, 0},
		{"adopted: left alone", func(t *testing.T, e *env) {
			seeded(roleARN("orders"), nil)(t, e)
			ensured(c)(t, e)
		}, cloud.Absent, 1, 0},
		{"deleted by someone meanwhile: gone as wanted", func(t *testing.T, e *env) {
			ensured(c)(t, e)
			e.hooks.beforeDelete = func() {
				if err := e.sim.DeleteAssociation(testCluster, e.sim.Associations()[0].AssociationID); err != nil {
					t.Error(err)
				}
			}
		}, cloud.Deleted, 0, 1},
		{"known ID stale, made again since: found by listing and deleted", func(t *testing.T, e *env) {
			ensured(c)(t, e) // records the first ID as known
			if err := e.sim.DeleteAssociation(testCluster, e.known); err != nil {
				t.Fatal(err)
			}
			again := c
			again.KnownID = e.known // as the controller passes it; e.known stays stale
			if _, err := e.p.Ensure(context.Background(), again); err != nil {
				t.Fatal(err)
			}
		}, cloud.Deleted, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			var id string
			if a := e.sim.Associations(); len(a) == 1 {
				id = a[0].AssociationID
			}
			k := c
			k.KnownID = e.known // as the controller passes the recorded ID
			res, err := e.p.Remove(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			if res.Action != tt.want || (tt.want == cloud.Deleted && res.ID != id) {
				t.Errorf("result %+v, want %s (of %s)", res, tt.want, id)
			}
			if n := len(e.sim.Associations()); n != tt.wantLeft {
				t.Errorf("%d associations left, want %d", n, tt.wantLeft)
			}
			if n := e.sim.Calls()["DeletePodIdentityAssociation"]; n != tt.wantCalls {
				t.Errorf("%d deletes, want %d", n, tt.wantCalls)
			}
		})
	}
}
