package aws

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

func TestEnsureFollowsPages(t *testing.T) {
	tests := []struct {
		name      string
		pageSize  int32
		wantLists int // for the second Ensure, which finds the association
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
			c := conn("ns", "sa", role("orders"))
			if res := e.mustEnsure(t, c); res.Action != cloud.Created {
				t.Fatalf("first Ensure %s, want Created", res.Action)
			}
			lists := e.sim.Calls()["ListPodIdentityAssociations"]
			// The association is on the last page; earlier ones are empty.
			if res := e.mustEnsure(t, c); res.Action != cloud.Unchanged {
				t.Errorf("second Ensure %s, want Unchanged", res.Action)
			}
			if n := e.sim.Calls()["ListPodIdentityAssociations"] - lists; n != tt.wantLists {
				t.Errorf("%d List calls, want %d", n, tt.wantLists)
			}
			if n := e.sim.Calls()["CreatePodIdentityAssociation"]; n != 1 {
				t.Errorf("%d creates, want 1", n)
			}
		})
	}
}

// TestCrashAfterCreate: a create landed but its answer never reached
// Keyless (a crash, a timeout). Ensure must find it, not make another.
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
		}, cloud.Unchanged},
		{"a tagged create straight to EKS", func(t *testing.T, e *env) { createDirect(t, e, keylessTags) }, cloud.Unchanged},
		{"an untagged create straight to EKS", func(t *testing.T, e *env) { createDirect(t, e, nil) }, cloud.Adopted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			tt.crash(t, e)
			if res := e.mustEnsure(t, c); res.Action != tt.want {
				t.Errorf("Ensure after the crash: %s, want %s", res.Action, tt.want)
			}
			if n := len(e.sim.Associations()); n != 1 {
				t.Errorf("%d associations, want 1", n)
			}
			if n := e.sim.Calls()["CreatePodIdentityAssociation"]; n != 1 {
				t.Errorf("%d creates, want only the first", n)
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

// TestCreateConflict: an association appears between List and Create; the
// 409 leads to one more List and adoption, never a second create.
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
			if calls["CreatePodIdentityAssociation"] != 1 || calls["ListPodIdentityAssociations"] != 2 {
				t.Errorf("calls %v, want one Create and two Lists", calls)
			}
			if n := len(e.sim.Associations()); n != 1 {
				t.Errorf("%d associations, want 1", n)
			}
		})
	}
}
