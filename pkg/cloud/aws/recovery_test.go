package aws

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestEnsureFollowsPages: the association in the way of a Create is on the
// last page of the cluster's; the pages before it are empty after the
// filter, and the List goes on through them.
func TestEnsureFollowsPages(t *testing.T) {
	tests := []struct {
		name      string
		pageSize  int32
		wantLists int
	}{
		{"EKS maximum page", 100, 2},
		{"small pages", 10, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.p.pageSize = tt.pageSize
			for i := range 150 {
				e.seed(t, fmt.Sprintf("other-%d", i%7), fmt.Sprintf("sa-%d", i), roleARN("x"), nil)
			}
			e.seed(t, "ns", "sa", roleARN("orders"), nil)
			if res := e.mustEnsure(t, conn("ns", "sa", role("orders"))); res.Action != cloud.Adopted {
				t.Errorf("Ensure %s, want Adopted", res.Action)
			}
			if n := e.sim.Calls()["ListPodIdentityAssociations"]; n != tt.wantLists {
				t.Errorf("%d List calls, want %d", n, tt.wantLists)
			}
			if n := len(e.sim.Associations()); n != 151 {
				t.Errorf("%d associations, want 151", n)
			}
		})
	}
}

// TestCrashAfterCreate: a create landed but its answer never reached
// Keyless (a crash, a timeout), so no ID was recorded. Ensure must find it,
// not make another: the same request token makes EKS answer with the
// first, and a create by anyone else makes it say 409.
func TestCrashAfterCreate(t *testing.T) {
	c := conn("ns", "sa", role("orders"))
	tests := []struct {
		name  string
		crash func(*testing.T, *env)
		want  cloud.Action
	}{
		{"Keyless's create, answer lost", func(t *testing.T, e *env) {
			e.hooks.loseCreate = true
			if _, err := e.p.Ensure(context.Background(), c); !errors.Is(err, errLost) || cloud.Permanent(err) {
				t.Errorf("Ensure with a lost answer: %v, want the transient network error", err)
			}
			e.hooks.loseCreate = false
		}, cloud.Created},
		{"a tagged create straight to EKS", func(t *testing.T, e *env) { createDirect(t, e, keylessTags) }, cloud.Unchanged},
		{"an untagged create straight to EKS", func(t *testing.T, e *env) { createDirect(t, e, nil) }, cloud.Adopted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			tt.crash(t, e)
			first := e.sim.Associations()
			res := e.mustEnsure(t, c)
			if res.Action != tt.want {
				t.Errorf("Ensure after the crash: %s, want %s", res.Action, tt.want)
			}
			after := e.sim.Associations()
			if len(after) != 1 || len(first) != 1 || after[0].AssociationID != first[0].AssociationID || res.ID != first[0].AssociationID {
				t.Errorf("associations %+v after the crash and %+v after Ensure (result %s), want the first one only", first, after, res.ID)
			}
		})
	}
}

// TestKnownID: the ID the controller recorded saves the List, and is
// checked rather than trusted.
func TestKnownID(t *testing.T) {
	c := conn("ns", "sa", role("orders"))
	other := conn("ns", "other", role("orders"))
	tests := []struct {
		name      string
		setup     func(*testing.T, *env) string // returns the known ID
		want      cloud.Action
		wantCalls map[string]int
	}{
		{"as wanted: one Describe", func(t *testing.T, e *env) string { return e.mustEnsure(t, c).ID },
			cloud.Unchanged, map[string]int{"DescribePodIdentityAssociation": 1}},
		{"drifted: Describe and Update", func(t *testing.T, e *env) string {
			id := e.mustEnsure(t, c).ID
			if err := e.sim.SetRole(testCluster, id, roleARN("drift")); err != nil {
				t.Fatal(err)
			}
			return id
		}, cloud.Updated, map[string]int{"DescribePodIdentityAssociation": 1, "UpdatePodIdentityAssociation": 1}},
		{"deleted by someone: created again", func(t *testing.T, e *env) string {
			id := e.mustEnsure(t, c).ID
			if err := e.sim.DeleteAssociation(testCluster, id); err != nil {
				t.Fatal(err)
			}
			return id
		}, cloud.Created, map[string]int{"DescribePodIdentityAssociation": 1, "CreatePodIdentityAssociation": 1}},
		{"another ServiceAccount's: ignored", func(t *testing.T, e *env) string {
			e.mustEnsure(t, c)
			return e.mustEnsure(t, other).ID
		}, cloud.Unchanged, map[string]int{"DescribePodIdentityAssociation": 2, "CreatePodIdentityAssociation": 1, "ListPodIdentityAssociations": 1}},
		{"not an association ID: ignored", func(t *testing.T, e *env) string { return "a-9f/../x" },
			// DescribeCluster: the first call resolves the role name.
			cloud.Created, map[string]int{"DescribeCluster": 1, "DescribePodIdentityAssociation": 1, "CreatePodIdentityAssociation": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			known := tt.setup(t, e)
			before := e.sim.Calls()
			k := c
			k.KnownID = known
			res, err := e.p.Ensure(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			if res.Action != tt.want {
				t.Errorf("Ensure %s, want %s", res.Action, tt.want)
			}
			got := map[string]int{}
			for op, n := range e.sim.Calls() {
				if d := n - before[op]; d > 0 {
					got[op] = d
				}
			}
			if !reflect.DeepEqual(got, tt.wantCalls) {
				t.Errorf("calls %v, want %v", got, tt.wantCalls)
			}
			n := 0
			for _, a := range e.sim.Associations() {
				if a.Namespace == "ns" && a.ServiceAccount == "sa" {
					n++
					if a.RoleARN != roleARN("orders") || a.AssociationID != res.ID {
						t.Errorf("association %+v, want role orders and ID %s", a, res.ID)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d associations of ns/sa, want 1", n)
			}
		})
	}
}

func createDirect(t *testing.T, e *env, tags map[string]string) {
	t.Helper()
	_, err := e.client.CreatePodIdentityAssociation(context.Background(), &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String(testCluster), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"),
		RoleArn: aws.String(roleARN("orders")), Tags: tags,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCreateConflict: the ServiceAccount has an association Keyless does
// not know the ID of; the Create's 409 leads to one List and adoption,
// correction or a conflict, never a second create.
func TestCreateConflict(t *testing.T) {
	tests := []struct {
		name    string
		role    string
		tags    map[string]string
		want    cloud.Action
		wantErr error
	}{
		{"someone else's, identical: adopted", roleARN("orders"), nil, cloud.Adopted, nil},
		{"Keyless's own: unchanged", roleARN("orders"), keylessTags, cloud.Unchanged, nil},
		{"Keyless's own, old role: updated", roleARN("old"), keylessTags, cloud.Updated, nil},
		{"someone else's, other role: conflict", roleARN("theirs"), nil, "", cloud.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.hooks.beforeCreate = func() { e.seed(t, "ns", "sa", tt.role, tt.tags) }
			res, err := e.p.Ensure(context.Background(), conn("ns", "sa", role("orders")))
			if !errors.Is(err, tt.wantErr) || res.Action != tt.want {
				t.Errorf("Ensure: %+v, %v; want %s, %v", res, err, tt.want, tt.wantErr)
			}
			calls := e.sim.Calls()
			if calls["CreatePodIdentityAssociation"] != 1 || calls["ListPodIdentityAssociations"] != 1 {
				t.Errorf("calls %v, want one Create and one List", calls)
			}
			if n := len(e.sim.Associations()); n != 1 {
				t.Errorf("%d associations, want 1", n)
			}
		})
	}
}
