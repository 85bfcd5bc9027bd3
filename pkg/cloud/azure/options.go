package azure

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"golang.org/x/time/rate"

	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
)

// DefaultAudience is the ARM token audience used with a custom Endpoint.
const DefaultAudience = "https://management.core.windows.net/"

// Options configure the Azure provider.
type Options struct {
	// SubscriptionID (a GUID) is used for identities given without one.
	SubscriptionID string
	// TenantID is the Entra tenant Keyless signs in to; empty: the
	// credential's default (AZURE_TENANT_ID under workload identity).
	TenantID string
	// IssuerURL is the cluster's service account issuer. Azure compares it
	// exactly with the token's iss claim, trailing slash included.
	IssuerURL string
	// ClusterName goes into credential names, so that clusters sharing an
	// identity get distinct credentials.
	ClusterName string

	// Endpoint replaces the ARM endpoint (a simulator, a sovereign cloud);
	// empty: Azure public cloud.
	Endpoint string
	// Audience is the ARM token audience for Endpoint; empty: DefaultAudience.
	Audience string
	// AuthorityHost replaces the Entra authority host; empty: public cloud.
	AuthorityHost string
	// Credential signs requests; nil: azidentity's DefaultAzureCredential.
	Credential azcore.TokenCredential
	// InsecureAllowHTTP lets a bearer token go to an http:// Endpoint (simulators only).
	InsecureAllowHTTP bool
	// Transport replaces the HTTP client (a TLS test server's client).
	Transport policy.Transporter
	// Limiter, if not nil, paces the HTTP requests to ARM: every attempt,
	// each retry included, waits for a token. Token requests to Entra are
	// not counted. It stands for the subscription's ARM quota.
	Limiter *rate.Limiter

	// MaxRetries, RetryDelay and MaxRetryDelay tune the SDK's retries of
	// 408/429/5xx: zero keeps the SDK default (3, 800ms, 60s), negative
	// turns them off. A Retry-After beyond MaxRetryDelay is not waited for.
	MaxRetries    int
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration

	// Timeout bounds each Ensure and Remove, the batch of writes to one
	// identity it joins, and each try of an HTTP request; 0: 30 seconds.
	Timeout time.Duration
	// ReadReuse is how long a listing of an identity's credentials also
	// answers the drift checks of its other ServiceAccounts (0: not at
	// all): the controller checks the ServiceAccounts sharing one identity
	// together, so one List serves them all. With it, a drift check lists
	// rather than reads its one credential. First syncs and removals
	// always go to Azure.
	ReadReuse time.Duration
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$`)

// validate returns every problem at once.
func (o Options) validate() error {
	var errs []error
	if !guidRE.MatchString(o.SubscriptionID) {
		errs = append(errs, fmt.Errorf("SubscriptionID %q is not a subscription ID (a GUID such as 00000000-0000-0000-0000-000000000000)", o.SubscriptionID))
	}
	if u, err := url.Parse(o.IssuerURL); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("IssuerURL %q must be the cluster's https service account issuer; "+
			"Azure compares it exactly with the token's iss claim, trailing slash included (AKS issuers end with /)", o.IssuerURL))
	}
	if o.ClusterName == "" {
		errs = append(errs, errors.New("ClusterName must not be empty: it keeps the credential names of clusters sharing an identity apart"))
	}
	for _, f := range [][2]string{{"Endpoint", o.Endpoint}, {"AuthorityHost", o.AuthorityHost}} {
		field, v := f[0], f[1]
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && o.InsecureAllowHTTP)) {
			errs = append(errs, fmt.Errorf("%s %q must be an https URL (http only with InsecureAllowHTTP)", field, v))
		}
	}
	if o.ReadReuse < 0 {
		errs = append(errs, fmt.Errorf("ReadReuse %v is negative; use 0 to turn it off", o.ReadReuse))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout %v is negative; use 0 for the default of %v", o.Timeout, deadline.Default)) //nolint:staticcheck // starts with the field's name
	}
	return errors.Join(errs...)
}

// clientOptions points the SDK at the configured cloud and paces its
// requests to ARM.
func (o Options) clientOptions() *arm.ClientOptions {
	cfg := cloud.AzurePublic
	if o.AuthorityHost != "" {
		cfg.ActiveDirectoryAuthorityHost = o.AuthorityHost
	}
	if o.Endpoint != "" {
		// The SDK refuses an endpoint without an audience.
		aud := o.Audience
		if aud == "" {
			aud = DefaultAudience
		}
		cfg.Services = map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: o.Endpoint, Audience: aud}}
	}
	var perRetry []policy.Policy
	if o.Limiter != nil {
		perRetry = append(perRetry, limitPolicy{limiter: o.Limiter, host: hostOf(cfg.Services[cloud.ResourceManager].Endpoint)})
	}
	return &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud:                           cfg,
			InsecureAllowCredentialWithHTTP: o.InsecureAllowHTTP,
			Transport:                       o.Transport,
			Retry: policy.RetryOptions{MaxRetries: int32(min(max(o.MaxRetries, -1), 100)), RetryDelay: o.RetryDelay, MaxRetryDelay: o.MaxRetryDelay,
				TryTimeout: deadline.Or(o.Timeout)},
			PerRetryPolicies: perRetry,
		},
		// Keyless's narrow role may not register resource providers.
		DisableRPRegistration: true,
	}
}

// hostOf returns the host[:port] of a valid endpoint URL.
func hostOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	return u.Host
}
