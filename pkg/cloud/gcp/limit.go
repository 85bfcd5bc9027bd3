package gcp

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/time/rate"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	"google.golang.org/api/option/internaloption"
	htransport "google.golang.org/api/transport/http"
)

// limitedClient returns the IAM client's HTTP client with every request
// waiting for a token of l first. The client is c or, if c is nil, the one
// iam.NewService would build from opts, with Application Default
// Credentials unless opts turn them off. The wait sits in front of the
// authenticating transport, so the token requests that transport makes
// with its own client are not counted.
func limitedClient(ctx context.Context, c *http.Client, l *rate.Limiter, opts []option.ClientOption) (*http.Client, error) {
	if c == nil {
		// The defaults iam.NewService adds before it builds its client.
		defaults := []option.ClientOption{
			internaloption.WithDefaultScopes(iam.CloudPlatformScope),
			internaloption.WithDefaultEndpoint("https://iam.googleapis.com/"),
			internaloption.WithDefaultEndpointTemplate("https://iam.UNIVERSE_DOMAIN/"),
			internaloption.WithDefaultMTLSEndpoint("https://iam.mtls.googleapis.com/"),
			internaloption.EnableNewAuthLibrary(),
		}
		built, _, err := htransport.NewClient(ctx, append(defaults, opts...)...)
		if err != nil {
			return nil, fmt.Errorf("building the authenticated HTTP client: %w", err)
		}
		c = built
	}
	limited := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	limited.Transport = limitTransport{next: next, limiter: l}
	return &limited, nil
}

// limitTransport waits for a token before each request it sends.
type limitTransport struct {
	next    http.RoundTripper
	limiter *rate.Limiter
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.limiter.Wait(req.Context()); err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on errors
		}
		return nil, fmt.Errorf("waiting for the IAM request rate limit: %w", err)
	}
	return t.next.RoundTrip(req)
}
