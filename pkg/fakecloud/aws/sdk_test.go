package aws

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// TestRealSDKClient checks that the SDK decodes the simulator's answers
// into its typed errors and timestamps.
func TestRealSDKClient(t *testing.T) {
	s := newTestServer()
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := eks.New(eks.Options{
		Region: "us-east-1", BaseEndpoint: sdk.String(srv.URL),
		Credentials: sdk.AnonymousCredentials{}, RetryMaxAttempts: 1,
	})
	ctx := context.Background()
	in := &eks.CreatePodIdentityAssociationInput{
		ClusterName: sdk.String("prod"), Namespace: sdk.String("ns"), ServiceAccount: sdk.String("sa"),
		RoleArn: sdk.String(testRole), Tags: map[string]string{"team": "a"},
	}
	before := time.Now().Add(-time.Second)
	out, err := client.CreatePodIdentityAssociation(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if c := sdk.ToTime(out.Association.CreatedAt); c.Before(before) || c.After(time.Now().Add(time.Second)) {
		t.Errorf("createdAt %v, want about now", c)
	}
	tests := []struct {
		name   string
		call   func() error
		target any
	}{
		{"409 is ResourceInUseException", func() error {
			again := *in
			again.ClientRequestToken = nil // the SDK filled in the first call's
			_, err := client.CreatePodIdentityAssociation(ctx, &again)
			return err
		},
			new(*types.ResourceInUseException)},
		{"404 is ResourceNotFoundException", func() error {
			_, err := client.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: sdk.String("nope")})
			return err
		}, new(*types.ResourceNotFoundException)},
		{"400 is InvalidParameterException", func() error {
			_, err := client.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
				ClusterName: sdk.String("prod"), AssociationId: sdk.String("a-1")})
			return err
		}, new(*types.InvalidParameterException)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.As(err, tt.target) {
				t.Errorf("error %v (%T), want %T", err, err, tt.target)
			}
		})
	}
}

// TestMissingCluster: every operation on a cluster that does not exist is
// answered as EKS answers it, a 404 ResourceNotFoundException naming the
// cluster, whatever else the request holds.
func TestMissingCluster(t *testing.T) {
	s := newTestServer()
	a := seed(t, s, "ns", "sa") // an ID that exists, but in "prod"
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := eks.New(eks.Options{
		Region: "us-east-1", BaseEndpoint: sdk.String(srv.URL),
		Credentials: sdk.AnonymousCredentials{}, RetryMaxAttempts: 1,
	})
	ctx := context.Background()
	nope, id := sdk.String("nope"), sdk.String(a.AssociationID)
	tests := []struct {
		op   string
		call func() error
	}{
		{"DescribeCluster", func() error {
			_, err := client.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: nope})
			return err
		}},
		{"CreatePodIdentityAssociation", func() error {
			_, err := client.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
				ClusterName: nope, Namespace: sdk.String("ns"), ServiceAccount: sdk.String("other"), RoleArn: sdk.String(testRole)})
			return err
		}},
		{"ListPodIdentityAssociations", func() error {
			_, err := client.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: nope})
			return err
		}},
		{"DescribePodIdentityAssociation", func() error {
			_, err := client.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: nope, AssociationId: id})
			return err
		}},
		{"UpdatePodIdentityAssociation", func() error {
			_, err := client.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: nope, AssociationId: id, RoleArn: sdk.String(testRole)})
			return err
		}},
		{"DeletePodIdentityAssociation", func() error {
			_, err := client.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: nope, AssociationId: id})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			var nf *types.ResourceNotFoundException
			err := tt.call()
			if !errors.As(err, &nf) {
				t.Fatalf("error %v (%T), want a ResourceNotFoundException", err, err)
			}
			if nf.ErrorMessage() != "No cluster found for name: nope." || sdk.ToString(nf.ClusterName) != "nope" {
				t.Errorf("message %q, clusterName %q; want \"No cluster found for name: nope.\" and nope", nf.ErrorMessage(), sdk.ToString(nf.ClusterName))
			}
		})
	}
	if got := s.Associations(); len(got) != 1 || got[0].AssociationID != a.AssociationID {
		t.Errorf("associations %+v, want only %s", got, a.AssociationID)
	}
}
