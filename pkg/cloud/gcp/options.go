package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	"google.golang.org/api/option/internaloption"
	htransport "google.golang.org/api/transport/http"

	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
)

const poolSuffix = ".svc.id.goog"

// validate returns every problem with o at once.
func (o Options) validate() error {
	var errs []error
	switch pool := o.pool(); {
	case pool == "":
		errs = append(errs, errors.New("gcp: set the workload pool (PROJECT.svc.id.goog) or the cluster's project"))
	case o.WorkloadPool != "" && o.Project != "" && pool != o.Project+poolSuffix:
		errs = append(errs, fmt.Errorf("gcp: workload pool %q does not belong to project %q; the pool of a project is %s", pool, o.Project, o.Project+poolSuffix))
	case !isProjectID(poolProject(pool)):
		errs = append(errs, fmt.Errorf("gcp: workload pool %q must be PROJECT.svc.id.goog with a project ID of 6 to 30 lower-case letters, digits and \"-\", e.g. my-project.svc.id.goog", pool))
	}
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("gcp: endpoint %q must be an http or https URL, e.g. https://iam.googleapis.com/", o.Endpoint))
		}
	}
	if o.MaxAttempts < 0 || o.Backoff < 0 || o.MaxBackoff < 0 || o.Timeout < 0 {
		errs = append(errs, errors.New("gcp: attempts, backoffs and the timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// clientOptions returns the options of the IAM client, with an HTTP client
// (HTTPClient, or the one iam.NewService would build) whose requests end
// after the timeout unless HTTPClient has one, and with a Limiter wait for
// a token first.
func (o Options) clientOptions(ctx context.Context) ([]option.ClientOption, error) {
	var opts []option.ClientOption
	if o.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(withSlash(o.Endpoint)))
	}
	if o.WithoutAuthentication {
		opts = append(opts, option.WithoutAuthentication())
	}
	c := o.HTTPClient
	if c == nil {
		// The defaults iam.NewService adds before it builds its client, with
		// Application Default Credentials unless opts turn them off.
		defaults := []option.ClientOption{
			internaloption.WithDefaultScopes(iam.CloudPlatformScope),
			internaloption.WithDefaultEndpoint("https://iam.googleapis.com/"), //nolint:staticcheck // iam.NewService still passes it
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
	if o.Limiter != nil {
		c = limited(c, o.Limiter)
	}
	if c.Timeout == 0 {
		bounded := *c
		bounded.Timeout = deadline.Or(o.Timeout)
		c = &bounded
	}
	return append(opts, option.WithHTTPClient(c)), nil
}

// pool returns the workload pool, derived from the project if not given.
func (o Options) pool() string {
	if o.WorkloadPool != "" {
		return o.WorkloadPool
	}
	if o.Project != "" {
		return o.Project + poolSuffix
	}
	return ""
}

// poolProject returns PROJECT of PROJECT.svc.id.goog, or "".
func poolProject(pool string) string {
	p, _ := strings.CutSuffix(pool, poolSuffix)
	if p == pool {
		return ""
	}
	return p
}

// isProjectID checks ^[a-z][-a-z0-9]{4,28}[a-z0-9]$.
func isProjectID(s string) bool {
	if len(s) < 6 || len(s) > 30 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// withSlash ends an endpoint with "/", without which the client would drop
// the endpoint's path when it resolves "v1/...".
func withSlash(endpoint string) string {
	if strings.HasSuffix(endpoint, "/") {
		return endpoint
	}
	return endpoint + "/"
}
