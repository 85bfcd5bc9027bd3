package aws

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"golang.org/x/time/rate"

	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
)

// Options configure the provider.
type Options struct {
	// ClusterName is the EKS cluster the associations belong to. Required.
	ClusterName string
	// AccountID, if set, is the 12-digit account the cluster must be in:
	// Ensure and Remove refuse to work on a cluster whose ARN names another
	// (credentials of another account that has a cluster of the same name).
	AccountID string
	// Region is the cluster's region. Empty: from the default chain
	// (AWS_REGION, the shared config file).
	Region string
	// Endpoint overrides the EKS endpoint, such as a local simulator's URL.
	// Empty: the default, which also honours AWS_ENDPOINT_URL_EKS and
	// AWS_ENDPOINT_URL.
	Endpoint string
	// Credentials sign the requests. Nil: the default credential chain
	// (environment, shared files, EKS Pod Identity, IRSA, instance role).
	Credentials aws.CredentialsProvider
	// RetryMaxAttempts caps the SDK's attempts per call, first included.
	// 0: the SDK default (3).
	RetryMaxAttempts int
	// HTTPClient sends the requests. Nil: the SDK default, with Timeout.
	HTTPClient aws.HTTPClient
	// Limiter, if not nil, paces the HTTP requests to the EKS API: every
	// attempt, each retry included, waits for a token. It stands for the
	// account's EKS quota, so share one between clients of one account.
	Limiter *rate.Limiter
	// Timeout bounds each Ensure and Remove, and each HTTP request of the
	// default HTTPClient; 0: 30 seconds.
	Timeout time.Duration
}

// validate returns every problem with o at once.
func (o Options) validate() error {
	var errs []error
	if o.ClusterName == "" {
		errs = append(errs, errors.New("the EKS cluster name is empty; set --cluster-name"))
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("the EKS endpoint %q is not an absolute http or https URL such as https://eks.us-east-1.amazonaws.com", o.Endpoint))
		}
	}
	if o.RetryMaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("the EKS retry attempts %d are negative; use 0 for the SDK default or 1 for no retries", o.RetryMaxAttempts))
	}
	if o.AccountID != "" && !isAccountID(o.AccountID) {
		errs = append(errs, fmt.Errorf("the AWS account ID %q is not a 12-digit account ID; set --aws-account-id to the cluster's account", o.AccountID))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("the timeout %v is negative; use 0 for the default of %v", o.Timeout, deadline.Default))
	}
	return errors.Join(errs...)
}

// New returns a provider with a real EKS client, configured from o and the
// AWS SDK's default configuration chain.
func New(ctx context.Context, o Options) (*Provider, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("configuring the AWS provider: %w", err)
	}
	var load []func(*config.LoadOptions) error
	if o.Region != "" {
		load = append(load, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		load = append(load, config.WithCredentialsProvider(o.Credentials))
	}
	if o.RetryMaxAttempts > 0 {
		load = append(load, config.WithRetryMaxAttempts(o.RetryMaxAttempts))
	}
	timeout := deadline.Or(o.Timeout)
	if o.HTTPClient != nil {
		load = append(load, config.WithHTTPClient(o.HTTPClient))
	} else {
		// Also a bound for the credential chain's requests, which do not
		// all get a caller's context.
		load = append(load, config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration (environment and shared config files): %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("configuring the AWS provider: no AWS region; set --aws-region or AWS_REGION")
	}
	client := eks.NewFromConfig(cfg, func(eo *eks.Options) {
		if o.Endpoint != "" {
			eo.BaseEndpoint = aws.String(o.Endpoint)
		}
		if o.Limiter != nil {
			eo.APIOptions = append(eo.APIOptions, limitRequests(o.Limiter))
		}
	})
	p := newProvider(client, o.ClusterName, cfg.Region)
	p.timeout, p.wantAccount = timeout, o.AccountID
	return p, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
