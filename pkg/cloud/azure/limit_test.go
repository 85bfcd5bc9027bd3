package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"golang.org/x/time/rate"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/ratetest"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	fakearm "github.com/keyless-dev/keyless/pkg/fakecloud/azure"
)

// TestLimitCountsEveryRequest runs many Ensures at once and checks that
// the HTTP requests sent (each retry included) never outpace the limiter.
func TestLimitCountsEveryRequest(t *testing.T) {
	tests := []struct {
		name    string
		limit   rate.Limit
		burst   int
		faults  fakecloud.Faults
		retries int
		ops     int // each on its own identity
	}{
		{name: "20/s, burst 1", limit: 20, burst: 1, ops: 10},
		{name: "40/s, burst 5", limit: 40, burst: 5, ops: 10},
		{name: "20/s, burst 1, a third of the answers 500 and retried", limit: 20, burst: 1, faults: fakecloud.Faults{ServerError: 0.3}, retries: 5, ops: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := fakearm.NewServer()
			var conns []cloud.Connection
			for i := range tt.ops + 1 {
				id := fmt.Sprintf("uami-%d", i)
				sim.AddIdentity(testSub, testRG, id, fmt.Sprintf("11111111-1111-1111-1111-%012d", i))
				conns = append(conns, cloud.Connection{
					Subject: cloud.Subject{Namespace: "ns", Name: "sa-" + id},
					Azure:   &annotations.AzureIdentity{ResourceGroup: testRG, Name: id},
				})
			}
			srv := httptest.NewTLSServer(sim)
			t.Cleanup(srv.Close)
			var sent requests
			o := testOptions(srv.URL, nil)
			o.Transport = sent.transport(srv.Client())
			o.Limiter = rate.NewLimiter(tt.limit, tt.burst)
			if tt.retries > 0 {
				o.MaxRetries = tt.retries
			}
			p, err := New(o)
			if err != nil {
				t.Fatal(err)
			}

			if _, err := p.Ensure(ctx(t), conns[0]); err != nil {
				t.Fatal(err)
			}
			sent.WarmedUp()
			sim.SetFaults(tt.faults)
			var wg sync.WaitGroup
			for _, c := range conns[1:] {
				wg.Go(func() { _, _ = p.Ensure(ctx(t), c) })
			}
			wg.Wait()
			sent.Check(t, tt.limit, tt.burst, 15)
		})
	}
}

// TestLimitWaitHonoursContext: a context that ends before a token comes
// ends the call at once, without the SDK's retries, and nothing reaches ARM.
func TestLimitWaitHonoursContext(t *testing.T) {
	tests := ratetest.EndingContexts()
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			sim := fakearm.NewServer()
			sim.AddIdentity(testSub, testRG, testUAMI, testClientID)
			var got requests
			srv := httptest.NewTLSServer(got.Record(sim))
			t.Cleanup(srv.Close)
			o := testOptions(srv.URL, srv.Client())
			// The SDK's default retries: a wait error must not be retried.
			o.MaxRetries, o.RetryDelay, o.MaxRetryDelay = 0, 0, 0
			o.Limiter = rate.NewLimiter(0.1, 1)
			o.Limiter.Allow() // the next token is 10s away
			p, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := p.Ensure(tt.Ctx(t), conn("ns", "sa")); err == nil {
				t.Error("Ensure succeeded, want an error")
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("Ensure returned after %v, want it at once", d)
			}
			if n := got.Count(); n != 0 {
				t.Errorf("%d requests reached ARM, want none", n)
			}
		})
	}
}

// TestLimitOnlyARM: the credential shares the client options, policies
// included, but its token requests to the Entra authority host take no
// token of the limiter. A request to ARM that cannot get one in time fails
// at once, with the SDK's default retries on.
func TestLimitOnlyARM(t *testing.T) {
	tests := []struct {
		name      string
		endpoint  string // empty: the public cloud
		url       string
		wantSent  bool
		wantError bool
	}{
		{name: "ARM", endpoint: "https://arm.example.com", url: "https://arm.example.com/subscriptions", wantError: true},
		{name: "ARM, host in upper case", endpoint: "https://arm.example.com", url: "https://ARM.example.com/subscriptions", wantError: true},
		{name: "public ARM", url: "https://management.azure.com/subscriptions", wantError: true},
		{name: "Entra authority host", endpoint: "https://arm.example.com", url: "https://login.example.com/tenant/oauth2/v2.0/token", wantSent: true},
		{name: "public Entra authority host", url: "https://login.microsoftonline.com/tenant/oauth2/v2.0/token", wantSent: true},
		{name: "instance metadata service", url: "http://169.254.169.254/metadata/identity/oauth2/token", wantSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := 0
			o := Options{Endpoint: tt.endpoint,
				Transport: transportFunc(func(*http.Request) (*http.Response, error) {
					sent++
					return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}, nil
				}),
				Limiter: rate.NewLimiter(0.1, 1)}
			if tt.endpoint != "" {
				o.AuthorityHost = "https://login.example.com/"
			}
			o.Limiter.Allow() // the next token is 10s away
			opts := o.clientOptions().ClientOptions
			pl := runtime.NewPipeline("test", "v0.0.0", runtime.PipelineOptions{}, &opts)
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			req, err := runtime.NewRequest(ctx, http.MethodGet, tt.url)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			resp, err := pl.Do(req)
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("Do returned after %v, want it at once, without the SDK's retries", d)
			}
			if err == nil {
				_ = resp.Body.Close()
			}
			if (err != nil) != tt.wantError {
				t.Errorf("error %v, want one: %v", err, tt.wantError)
			}
			if (sent > 0) != tt.wantSent {
				t.Errorf("%d requests sent, want some: %v", sent, tt.wantSent)
			}
		})
	}
}

type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

var _ policy.Transporter = transportFunc(nil)

// requests records the requests sent (see ratetest.Requests).
type requests struct{ ratetest.Requests }

// transport records the requests sent through next.
func (a *requests) transport(next policy.Transporter) policy.Transporter {
	return transportFunc(func(r *http.Request) (*http.Response, error) {
		a.Add()
		return next.Do(r)
	})
}
