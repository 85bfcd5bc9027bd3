package aws

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/stalltest"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	fakeeks "github.com/keyless-dev/keyless/pkg/fakecloud/aws"
)

// TestCallTimeout: against an EKS endpoint that accepts requests and never
// answers, a call without a deadline of its own ends after Options.Timeout
// with a timeout error, and so does a single HTTP request of New's client;
// the next call, once EKS answers again, proceeds (the lock around the
// cluster's DescribeCluster was released).
func TestCallTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name string
		call func(*Provider) error
	}{
		{"Ensure, role by name: DescribeCluster under the account lock", func(p *Provider) error {
			_, err := p.Ensure(context.Background(), conn("ns", "sa", role("orders")))
			return err
		}},
		{"Remove: List", func(p *Provider) error {
			_, err := p.Remove(context.Background(), conn("ns", "sa", role("orders")))
			return err
		}},
		{"one HTTP request: the client's own timeout", func(p *Provider) error {
			_, err := p.api.ListPodIdentityAssociations(context.Background(), &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(testCluster)})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := fakeeks.New()
			sim.AddCluster(testCluster, testAccount, testRegion)
			stall := fakecloud.NewStall(sim)
			srv := httptest.NewServer(stall)
			t.Cleanup(srv.Close)
			t.Cleanup(stall.Release) // first: Close waits for held requests
			t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
			p, err := New(context.Background(), Options{
				ClusterName: testCluster, Region: testRegion, Endpoint: srv.URL,
				Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1, Timeout: timeout,
			})
			if err != nil {
				t.Fatal(err)
			}

			err = stalltest.EndsWithin(t, timeout, func() error { return tt.call(p) })
			t.Log(err)
			if stall.Held() == 0 {
				t.Fatal("no request reached the stalled endpoint")
			}

			stall.Set(false)
			res, err := p.Ensure(context.Background(), conn("ns", "sa", role("orders")))
			if err != nil || res.Action != cloud.Created {
				t.Errorf("Ensure once EKS answers = %+v, %v; want Created", res, err)
			}
		})
	}
}
