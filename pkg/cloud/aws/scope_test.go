package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// otherCluster answers every Describe as if the association were in
// another cluster, as a recorded ID copied from another cluster's status
// could make it look.
type otherCluster struct{ eksAPI }

func (o otherCluster) DescribePodIdentityAssociation(ctx context.Context, in *eks.DescribePodIdentityAssociationInput, opts ...func(*eks.Options)) (*eks.DescribePodIdentityAssociationOutput, error) {
	out, err := o.eksAPI.DescribePodIdentityAssociation(ctx, in, opts...)
	if err == nil && out.Association != nil {
		out.Association.ClusterName = aws.String("staging")
	}
	return out, err
}

// TestKnownIDOfAnotherSubject: a recorded ID that names an association of
// the same ServiceAccount name in another namespace, or of the same
// ServiceAccount in another cluster, is not trusted: ns/sa gets its own.
func TestKnownIDOfAnotherSubject(t *testing.T) {
	tests := []struct {
		name  string
		other cloud.Connection // whose association's ID is recorded
		wrap  func(eksAPI) eksAPI
	}{
		{name: "another namespace", other: conn("other", "sa", role("orders"))},
		{name: "another cluster", other: conn("ns", "sa", role("orders")),
			wrap: func(api eksAPI) eksAPI { return otherCluster{api} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			known := e.mustEnsure(t, tt.other).ID
			p := e.p
			if tt.wrap != nil {
				p = newProvider(tt.wrap(e.client), testCluster, testRegion)
			}
			c := conn("ns", "sa", role("orders"))
			c.KnownID = known
			res, err := p.Ensure(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if n := e.sim.Calls()["ListPodIdentityAssociations"] + e.sim.Calls()["CreatePodIdentityAssociation"]; n < 2 {
				t.Errorf("the recorded ID was trusted: result %+v after %v", res, e.sim.Calls())
			}
			for _, a := range e.sim.Associations() {
				if a.Namespace == "ns" && a.ServiceAccount == "sa" && a.AssociationID != res.ID {
					t.Errorf("result %+v, want ns/sa's association %s", res, a.AssociationID)
				}
				if a.Namespace == "other" && a.AssociationID == res.ID {
					t.Errorf("result %+v names other/sa's association", res)
				}
			}
		})
	}
}

// TestCreateSettings: a new association has every setting of the
// connection from the start, not from the next sync's update.
func TestCreateSettings(t *testing.T) {
	tests := []struct {
		name   string
		target string
		noTags bool
	}{
		{name: "defaults"},
		{name: "session tags off", noTags: true},
		{name: "target role", target: "arn:aws:iam::444455556666:role/data"},
		{name: "target role and session tags off", target: "arn:aws:iam::444455556666:role/data", noTags: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := conn("ns", "sa", role("orders"))
			c.AWS.TargetRoleARN, c.AWS.DisableSessionTags = tt.target, tt.noTags
			if res := e.mustEnsure(t, c); res.Action != cloud.Created {
				t.Fatalf("Ensure %s, want %s", res.Action, cloud.Created)
			}
			if n := e.writes(); n != 1 {
				t.Errorf("%d writes, want one Create", n)
			}
			a := e.sim.Associations()[0]
			if a.TargetRoleARN != tt.target || a.DisableSessionTags != tt.noTags {
				t.Errorf("created with target role %q, session tags off %t; want %q, %t",
					a.TargetRoleARN, a.DisableSessionTags, tt.target, tt.noTags)
			}
		})
	}
}
