package gcp

import (
	"fmt"
	"net/http"

	"golang.org/x/time/rate"
)

// limited returns a copy of c whose every request waits for a token of l
// first. The wait sits in front of the authenticating transport, so the
// token requests that transport makes with its own client are not counted.
func limited(c *http.Client, l *rate.Limiter) *http.Client {
	out := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = limitTransport{next: next, limiter: l}
	return &out
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
