package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"google.golang.org/api/option"
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
	if o.MaxAttempts < 0 || o.Backoff < 0 || o.MaxBackoff < 0 {
		errs = append(errs, errors.New("gcp: attempts and backoffs must not be negative"))
	}
	return errors.Join(errs...)
}

// clientOptions returns the options of the IAM client; with a Limiter it
// carries a built HTTP client whose every request waits for a token.
func (o Options) clientOptions(ctx context.Context) ([]option.ClientOption, error) {
	var opts []option.ClientOption
	if o.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(withSlash(o.Endpoint)))
	}
	if o.WithoutAuthentication {
		opts = append(opts, option.WithoutAuthentication())
	}
	c := o.HTTPClient
	if o.Limiter != nil {
		var err error
		if c, err = limitedClient(ctx, c, o.Limiter, opts); err != nil {
			return nil, err
		}
	}
	if c != nil {
		opts = append(opts, option.WithHTTPClient(c))
	}
	return opts, nil
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
