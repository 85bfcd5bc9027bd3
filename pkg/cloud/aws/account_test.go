package aws

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	fakeeks "github.com/keyless-dev/keyless/pkg/fakecloud/aws"
)

// TestAccountCheck: with --aws-account-id set, the provider works only on a
// cluster whose ARN names that account. Credentials of another account
// that has a cluster of the same name must neither create associations
// there nor delete the ones that account's own Keyless made.
func TestAccountCheck(t *testing.T) {
	byARN := annotations.AWSRole{Partition: "aws", Account: testAccount, Path: "/", Name: "orders"}
	tests := []struct {
		name    string
		account string
		call    func(*Provider, context.Context, cloud.Connection) (cloud.Result, error)
		role    annotations.AWSRole
		wantErr bool
	}{
		{name: "Ensure, role by name, other account", account: "999988887777", call: (*Provider).Ensure, role: role("orders"), wantErr: true},
		{name: "Ensure, role by ARN, other account", account: "999988887777", call: (*Provider).Ensure, role: byARN, wantErr: true},
		{name: "Remove, other account", account: "999988887777", call: (*Provider).Remove, role: role("orders"), wantErr: true},
		{name: "Ensure, the cluster's account", account: testAccount, call: (*Provider).Ensure, role: byARN},
		{name: "Remove, the cluster's account", account: testAccount, call: (*Provider).Remove, role: role("orders")},
		{name: "Ensure, no account configured", call: (*Provider).Ensure, role: byARN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := fakeeks.New()
			sim.AddCluster(testCluster, testAccount, testRegion)
			a, err := sim.AddAssociation(testCluster, "ns", "sa", roleARN("orders"), keylessTags) // this account's Keyless made it
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
			p, err := New(context.Background(), Options{
				ClusterName: testCluster, Region: testRegion, Endpoint: srv.URL, AccountID: tt.account,
				Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second call is answered from what the first read
				_, err = tt.call(p, context.Background(), conn("ns", "sa", tt.role))
				if !tt.wantErr {
					if err != nil {
						t.Fatal(err)
					}
					continue
				}
				want := "--aws-account-id 999988887777 does not match cluster ARN account 111122223333"
				if err == nil || !errors.Is(err, cloud.ErrClusterNotFound) || !cloud.Permanent(err) || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v: want a permanent ErrClusterNotFound saying %q", err, want)
				}
			}
			calls := sim.Calls()
			if tt.wantErr {
				if n := calls["CreatePodIdentityAssociation"] + calls["UpdatePodIdentityAssociation"] + calls["DeletePodIdentityAssociation"] + calls["ListPodIdentityAssociations"]; n != 0 {
					t.Errorf("calls %v, want none to associations in another account's cluster", calls)
				}
				if left := sim.Associations(); len(left) != 1 || left[0].AssociationID != a.AssociationID {
					t.Errorf("associations %+v, want %s untouched", left, a.AssociationID)
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tt.account != "" || tt.role.Account == ""]; calls["DescribeCluster"] != want {
				t.Errorf("%d DescribeCluster calls for two calls, want %d", calls["DescribeCluster"], want)
			}
		})
	}
}

func TestAccountIDValidated(t *testing.T) {
	for _, id := range []string{"12345678901", "1234567890123", "12345678901a", "arn:aws:iam::123456789012:root"} {
		_, err := New(context.Background(), Options{ClusterName: testCluster, Region: testRegion, AccountID: id})
		if err == nil || !strings.Contains(err.Error(), "12-digit") {
			t.Errorf("New with AccountID %q: %v, want an error about the 12-digit account ID", id, err)
		}
	}
}
