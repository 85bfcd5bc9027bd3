package aws

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestWrongCluster: under a --cluster-name (or --aws-region) where EKS has
// no such cluster, every call fails with ErrClusterNotFound, a permanent
// error that is never ErrNotFound: the controller takes ErrNotFound from
// Remove for "the identity is gone, removal done" and would drop its record
// of an association that still exists in the real cluster.
func TestWrongCluster(t *testing.T) {
	byARN := annotations.AWSRole{Partition: "aws", Account: testAccount, Path: "/", Name: "orders"}
	tests := []struct {
		name  string
		call  func(*Provider, context.Context, cloud.Connection) (cloud.Result, error)
		role  annotations.AWSRole
		known bool // pass the ID of the association in the real cluster
	}{
		{name: "Ensure, role by name (DescribeCluster)", call: (*Provider).Ensure, role: role("orders")},
		{name: "Ensure, role by ARN (Create)", call: (*Provider).Ensure, role: byARN},
		{name: "Ensure with the known ID (Describe)", call: (*Provider).Ensure, role: byARN, known: true},
		{name: "Remove (List)", call: (*Provider).Remove, role: role("orders")},
		{name: "Remove with the known ID (Describe)", call: (*Provider).Remove, role: role("orders"), known: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			made := e.mustEnsure(t, conn("ns", "sa", role("orders"))) // before the configuration went wrong
			wrong := newProvider(e.hooks, "nope", testRegion)
			c := conn("ns", "sa", tt.role)
			if tt.known {
				c.KnownID = made.ID
			}
			res, err := tt.call(wrong, context.Background(), c)
			if err == nil {
				t.Fatalf("got %+v, want an error", res)
			}
			if !errors.Is(err, cloud.ErrClusterNotFound) || errors.Is(err, cloud.ErrNotFound) || !cloud.Permanent(err) {
				t.Errorf("error %v: want ErrClusterNotFound, permanent, and not ErrNotFound", err)
			}
			if got := cloud.Outcome(res, err); got != "cluster_not_found" {
				t.Errorf("outcome %q, want cluster_not_found", got)
			}
			for _, m := range []string{"EKS cluster nope not found in region us-west-2", "--cluster-name", "--aws-region"} {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q\nwant it to contain %q", err, m)
				}
			}
			if a := e.sim.Associations(); len(a) != 1 || a[0].AssociationID != made.ID {
				t.Errorf("associations %+v, want only %s, untouched", a, made.ID)
			}
			if c := e.sim.Calls(); c["UpdatePodIdentityAssociation"]+c["DeletePodIdentityAssociation"] != 0 {
				t.Errorf("calls %v, want no Update or Delete", c)
			}
		})
	}
}

// TestAssociationNotFoundIsNotTheCluster: a 404 for an association in a
// cluster that exists still means the association is gone.
func TestAssociationNotFoundIsNotTheCluster(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.client.DescribePodIdentityAssociation(context.Background(), &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String(testCluster), AssociationId: aws.String("a-0000000000000000x"),
	})
	if !notFound(err) || clusterMissing(err) {
		t.Errorf("notFound = %t, clusterMissing = %t for %v; want true, false", notFound(err), clusterMissing(err), err)
	}
	_, err = e.client.DescribePodIdentityAssociation(context.Background(), &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String("nope"), AssociationId: aws.String("a-0000000000000000x"),
	})
	if notFound(err) || !clusterMissing(err) {
		t.Errorf("notFound = %t, clusterMissing = %t for %v; want false, true", notFound(err), clusterMissing(err), err)
	}
}
