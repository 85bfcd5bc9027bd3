package azure

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/stalltest"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	fakearm "github.com/keyless-dev/keyless/pkg/fakecloud/azure"
)

// TestCallTimeout: against an ARM endpoint that accepts requests and never
// answers, a call without a deadline of its own ends after Options.Timeout
// with a timeout error, and so does a single request of the SDK client; the
// identity's lock is released, so the next call for the same identity, once
// ARM answers again, proceeds.
func TestCallTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name  string
		call  func(*Provider) error
		tries int // HTTP tries, each bounded by the timeout
	}{
		{"Ensure", func(p *Provider) error {
			_, err := p.Ensure(context.Background(), conn("ns", "app"))
			return err
		}, 1},
		{"Remove", func(p *Provider) error {
			_, err := p.Remove(context.Background(), conn("ns", "app"))
			return err
		}, 1},
		{"one request: each try's timeout", func(p *Provider) error {
			c, err := p.clients(testSub)
			if err == nil {
				_, err = c.credentials.Get(context.Background(), testRG, testUAMI, "any", nil)
			}
			return err
		}, 2}, // MaxRetries 1
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := fakearm.NewServer()
			sim.AddIdentity(testSub, testRG, testUAMI, testClientID)
			stall := fakecloud.NewStall(sim)
			srv := httptest.NewTLSServer(stall)
			t.Cleanup(srv.Close)
			t.Cleanup(stall.Release) // first: Close waits for held requests
			o := testOptions(srv.URL, srv.Client())
			o.Timeout = timeout
			p, err := New(o)
			if err != nil {
				t.Fatal(err)
			}

			err = stalltest.EndsWithin(t, time.Duration(tt.tries)*timeout, func() error { return tt.call(p) })
			t.Log(err)
			if stall.Held() == 0 {
				t.Fatal("no request reached the stalled endpoint")
			}

			stall.Set(false)
			res, err := p.Ensure(context.Background(), conn("ns", "app"))
			if err != nil || res.Action != cloud.Created {
				t.Errorf("Ensure once ARM answers = %+v, %v; want Created", res, err)
			}
		})
	}
}
