package aws

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/keyless-dev/keyless/pkg/cloud/internal/ratetest"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	fakeeks "github.com/keyless-dev/keyless/pkg/fakecloud/aws"
)

// TestLimitCountsEveryRequest runs many Ensures at once and checks that
// the HTTP requests sent (each retry included) never outpace the limiter.
func TestLimitCountsEveryRequest(t *testing.T) {
	tests := []struct {
		name     string
		limit    rate.Limit
		burst    int
		faults   fakecloud.Faults
		attempts int
		ops      int
	}{
		{name: "20/s, burst 1", limit: 20, burst: 1, attempts: 1, ops: 20},
		{name: "40/s, burst 5", limit: 40, burst: 5, attempts: 1, ops: 20},
		{name: "20/s, burst 1, half the answers 500 and retried", limit: 20, burst: 1, faults: fakecloud.Faults{ServerError: 0.5}, attempts: 3, ops: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := fakeeks.New()
			sim.AddCluster(testCluster, testAccount, testRegion)
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			var sent requests
			// As New builds it, with retries that do not back off, so that
			// retries come as fast as the limiter lets them.
			client := eks.New(eks.Options{
				Region: testRegion, BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{},
				HTTPClient: sent.client(awshttp.NewBuildableClient()),
				Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
					o.MaxAttempts = tt.attempts
					o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
					o.RateLimiter = ratelimit.None
				}),
				APIOptions: []func(*middleware.Stack) error{limitRequests(rate.NewLimiter(tt.limit, tt.burst))},
			})
			p := newProvider(client, testCluster, testRegion)

			if _, err := p.Ensure(t.Context(), conn("ns", "warm-up", role("orders"))); err != nil {
				t.Fatal(err)
			}
			sent.WarmedUp()
			sim.SetFaults(tt.faults)
			var wg sync.WaitGroup
			for i := range tt.ops {
				wg.Go(func() {
					_, _ = p.Ensure(t.Context(), conn("ns", fmt.Sprintf("sa-%d", i), role("orders")))
				})
			}
			wg.Wait()
			sent.Check(t, tt.limit, tt.burst, 15)
		})
	}
}

// TestLimitWaitHonoursContext: a context that ends before a token comes
// ends the call at once, and nothing reaches EKS.
func TestLimitWaitHonoursContext(t *testing.T) {
	tests := ratetest.EndingContexts()
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			sim := fakeeks.New()
			sim.AddCluster(testCluster, testAccount, testRegion)
			var got requests
			srv := httptest.NewServer(got.Record(sim))
			t.Cleanup(srv.Close)
			t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
			l := rate.NewLimiter(0.1, 1)
			l.Allow() // the next token is 10s away
			p, err := New(t.Context(), Options{
				ClusterName: testCluster, Region: testRegion, Endpoint: srv.URL,
				Credentials: aws.AnonymousCredentials{}, Limiter: l,
			})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = p.Ensure(tt.Ctx(t), conn("ns", "sa", role("orders")))
			if err == nil {
				t.Error("Ensure succeeded, want an error")
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Ensure returned after %v, want it at once", d)
			}
			if n := got.Count(); n != 0 {
				t.Errorf("%d requests reached EKS, want none", n)
			}
		})
	}
}

// requests records the requests sent (see ratetest.Requests).
type requests struct{ ratetest.Requests }

// client records the requests sent through next.
func (a *requests) client(next aws.HTTPClient) aws.HTTPClient {
	return clientFunc(func(r *http.Request) (*http.Response, error) {
		a.Add()
		return next.Do(r)
	})
}

type clientFunc func(*http.Request) (*http.Response, error)

func (f clientFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }
