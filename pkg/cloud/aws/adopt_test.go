package aws

import (
	"context"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestRemoveLeavesAdopted: an association Keyless adopted (one pointing at
// the wanted role without this cluster's Keyless tags) is never deleted,
// whether Remove gets its ID, as the controller passes the recorded one,
// or has to list.
func TestRemoveLeavesAdopted(t *testing.T) {
	tests := []struct {
		name  string
		tags  map[string]string
		known bool
	}{
		{name: "untagged, known ID", known: true},
		{name: "untagged, listed"},
		{name: "another tool's tags, known ID", tags: map[string]string{"app.kubernetes.io/managed-by": "terraform"}, known: true},
		{name: "another cluster's Keyless, known ID", tags: map[string]string{TagManagedBy: ManagedByValue, TagCluster: "staging"}, known: true},
		{name: "Keyless's tag without the cluster tag, listed", tags: map[string]string{TagManagedBy: ManagedByValue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			a := e.seed(t, "ns", "sa", roleARN("orders"), tt.tags)
			c := conn("ns", "sa", role("orders"))
			res := e.mustEnsure(t, c)
			if res.Action != cloud.Adopted || res.ID != a.AssociationID {
				t.Fatalf("Ensure = %+v, want Adopted %s", res, a.AssociationID)
			}
			if tt.known {
				c.KnownID = res.ID
			}
			got, err := e.p.Remove(context.Background(), c)
			if err != nil || got.Action != cloud.Absent {
				t.Errorf("Remove = %+v, %v; want Absent", got, err)
			}
			if left := e.sim.Associations(); len(left) != 1 || left[0].AssociationID != a.AssociationID || left[0].RoleARN != roleARN("orders") {
				t.Errorf("associations %+v, want %s as it was", left, a.AssociationID)
			}
			if n := e.writes(); n != 1 { // the Create refused with 409
				t.Errorf("%d writes, want only the refused Create", n)
			}
		})
	}
}
