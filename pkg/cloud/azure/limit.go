package azure

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"golang.org/x/time/rate"
)

// limitPolicy is a per-retry policy: every request to ARM, each retry
// included, waits for a token of limiter. The credential shares the client
// options, so requests to other hosts (tokens from the Entra authority
// host or the instance metadata service) pass without one.
type limitPolicy struct {
	limiter *rate.Limiter
	host    string // ARM's host[:port]
}

func (p limitPolicy) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	if strings.EqualFold(raw.URL.Host, p.host) {
		if err := p.limiter.Wait(raw.Context()); err != nil {
			return nil, waitError{fmt.Errorf("waiting for the ARM request rate limit: %w", err)}
		}
	}
	return req.Next()
}

// waitError tells the SDK's retry policy not to retry: the context is done
// or will be before a token comes.
type waitError struct{ error }

func (waitError) NonRetriable() {}

func (e waitError) Unwrap() error { return e.error }
