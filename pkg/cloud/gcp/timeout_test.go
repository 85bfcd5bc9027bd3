package gcp

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/stalltest"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

// TestCallTimeout: against an IAM endpoint that accepts requests and never
// answers, a call without a deadline of its own ends after Options.Timeout
// with a timeout error, and so does a single request of the HTTP client;
// the Google service account's lock is released, so the next call for the
// same account, once IAM answers again, proceeds.
func TestCallTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name string
		call func(*Provider) error
	}{
		{"Ensure", func(p *Provider) error {
			_, err := p.Ensure(context.Background(), conn("web"))
			return err
		}},
		{"EnsureMany", func(p *Provider) error {
			_, err := p.EnsureMany(context.Background(), gsa, []cloud.Subject{subject("web"), subject("api")})
			return err
		}},
		{"Remove", func(p *Provider) error {
			_, err := p.Remove(context.Background(), conn("web"))
			return err
		}},
		{"one request: the HTTP client's timeout", func(p *Provider) error {
			_, err := p.api.GetIamPolicy(context.Background(), resourceName(gsa))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stall *fakecloud.Stall
			p, _ := newEnvWith(t, Options{Timeout: timeout}, func(next http.Handler) http.Handler {
				stall = fakecloud.NewStall(next)
				return stall
			})
			t.Cleanup(stall.Release) // before the server's Close, which waits for held requests

			err := stalltest.EndsWithin(t, timeout, func() error { return tt.call(p) })
			t.Log(err)
			if stall.Held() == 0 {
				t.Fatal("no request reached the stalled endpoint")
			}

			stall.Set(false)
			res, err := p.Ensure(context.Background(), conn("web"))
			if err != nil || res.Action != cloud.Created {
				t.Errorf("Ensure once IAM answers = %+v, %v; want Created", res, err)
			}
		})
	}
}
