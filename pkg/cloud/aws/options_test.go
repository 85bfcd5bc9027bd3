package aws

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyless-dev/keyless/pkg/cloud"
	fakeeks "github.com/keyless-dev/keyless/pkg/fakecloud/aws"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"no cluster", Options{Region: "us-east-1"}, []string{"set --cluster-name"}},
		{"every problem at once", Options{Endpoint: "localhost:8080", RetryMaxAttempts: -1, Timeout: -time.Second}, []string{
			"set --cluster-name", `the EKS endpoint "localhost:8080" is not an absolute http or https URL`, "retry attempts -1 are negative",
			"the timeout -1s is negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.o)
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want it to say %q", err, w)
				}
			}
		})
	}
}

// TestNewTalksToEndpoint: New's client reaches an endpoint given in the
// options or, as the SDK's config chain allows, in AWS_ENDPOINT_URL_EKS.
func TestNewTalksToEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		fromEnv bool
	}{
		{"Options.Endpoint", false},
		{"AWS_ENDPOINT_URL_EKS", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := fakeeks.New()
			sim.AddCluster(testCluster, testAccount, testRegion)
			srv := httptest.NewServer(sim)
			defer srv.Close()
			t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
			o := Options{ClusterName: testCluster, Region: testRegion, Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1}
			if tt.fromEnv {
				t.Setenv("AWS_ENDPOINT_URL_EKS", srv.URL)
			} else {
				o.Endpoint = srv.URL
			}
			p, err := New(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.Ensure(context.Background(), conn("ns", "sa", role("orders")))
			if err != nil || res.Action != cloud.Created {
				t.Fatalf("Ensure: %+v, %v; want Created", res, err)
			}
			if n := len(sim.Associations()); n != 1 {
				t.Errorf("%d associations in the simulator, want 1", n)
			}
		})
	}
}
