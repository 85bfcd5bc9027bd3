package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/time/rate"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/aws"
	"github.com/keyless-dev/keyless/pkg/cloud/azure"
	"github.com/keyless-dev/keyless/pkg/cloud/gcp"
	"github.com/keyless-dev/keyless/pkg/config"
)

// Providers builds the configured cloud providers, each decorated with
// metrics. Each provider's SDK client gets its cloud's requests-per-second
// limit, which every HTTP request to the API waits for, retries included,
// and --cloud-timeout, which bounds every call and HTTP request.
// A cloud left unconfigured is absent from the map: it is off.
func Providers(ctx context.Context, c config.Config) (map[cloud.Name]cloud.Provider, error) {
	anonymous := c.CloudCredentials == "anonymous"
	out := map[cloud.Name]cloud.Provider{}
	limit := func(qps float64) *rate.Limiter { return rate.NewLimiter(rate.Limit(qps), max(1, int(qps))) }
	// The drift checks of the ServiceAccounts sharing an identity come due
	// together (controller.CloudSyncer's resync alignment); one read serves
	// them for this long. Out-of-band drift is then seen at most this much
	// later than it would be.
	reuse := min(time.Minute, c.ResyncPeriod/4)

	if c.AWSRegion != "" {
		o := aws.Options{ClusterName: c.ClusterName, Region: c.AWSRegion, Endpoint: c.AWSEndpoint, Limiter: limit(c.AWSQPS),
			AccountID: c.AWSAccountID, Timeout: c.CloudTimeout}
		if anonymous {
			o.Credentials = awssdk.AnonymousCredentials{}
		}
		p, err := aws.New(ctx, o)
		if err != nil {
			return nil, err
		}
		out[cloud.AWS] = cloud.Instrument(cloud.AWS, p)
	}
	if c.AzureSubscriptionID != "" {
		o := azure.Options{
			SubscriptionID: c.AzureSubscriptionID, TenantID: c.AzureTenantID, IssuerURL: c.AzureOIDCIssuerURL,
			ClusterName: c.ClusterName, Endpoint: c.AzureEndpoint, AuthorityHost: c.AzureAuthorityHost,
			Limiter: limit(c.AzureQPS), Timeout: c.CloudTimeout, ReadReuse: reuse,
		}
		if anonymous {
			o.Credential, o.InsecureAllowHTTP = staticToken{}, true
		}
		p, err := azure.New(o)
		if err != nil {
			return nil, err
		}
		out[cloud.Azure] = cloud.Instrument(cloud.Azure, p)
	}
	if c.GCPWorkloadPool != "" {
		p, err := gcp.New(ctx, gcp.Options{
			WorkloadPool: c.GCPWorkloadPool, Endpoint: c.GCPEndpoint, WithoutAuthentication: anonymous,
			Limiter: limit(c.GCPQPS), Timeout: c.CloudTimeout, ReadReuse: reuse,
		})
		if err != nil {
			return nil, err
		}
		out[cloud.GCP] = cloud.Instrument(cloud.GCP, p)
	}
	return out, nil
}

// staticToken is the Azure credential of --cloud-credentials=anonymous: a
// fixed bearer token that simulators accept and Azure would refuse.
type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "keyless-anonymous"}, nil
}

// describeClouds lists the configured clouds for the start-up log.
func describeClouds(p map[cloud.Name]cloud.Provider) string {
	s := ""
	for _, n := range cloud.Names() {
		state := "off"
		if p[n] != nil {
			state = "on"
		}
		s += fmt.Sprintf("%s=%s ", n, state)
	}
	return s[:len(s)-1]
}
