package devenv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/config"
	fakeaws "github.com/keyless-dev/keyless/pkg/fakecloud/aws"
	fakeazure "github.com/keyless-dev/keyless/pkg/fakecloud/azure"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

// The simulated clouds' fixed settings.
const (
	ClusterName       = "keyless-dev"
	AWSAccount        = "111122223333"
	AWSRegion         = "us-east-1"
	AzureSubscription = "00000000-0000-4000-8000-00000000cafe"
	AzureTenant       = "00000000-0000-4000-8000-00000000beef"
	AzureIssuer       = "https://oidc.keyless.invalid/keyless-dev/"
	GCPProject        = "demo-project"
)

// Clouds are the three simulators, each served on a loopback port.
type Clouds struct {
	AWS   *fakeaws.Server
	Azure *fakeazure.Server
	GCP   *fakegcp.Server

	AWSURL, AzureURL, GCPURL string
	servers                  []*http.Server
}

// StartClouds serves the simulators on 127.0.0.1, with the dev cluster,
// the GCP workload pool, and nothing else seeded.
func StartClouds() (*Clouds, error) {
	c := &Clouds{AWS: fakeaws.New(), Azure: fakeazure.NewServer(), GCP: fakegcp.New()}
	c.AWS.AddCluster(ClusterName, AWSAccount, AWSRegion)
	c.GCP.EnablePool(GCPProject + ".svc.id.goog")
	for _, s := range []struct {
		h   http.Handler
		url *string
	}{{c.AWS, &c.AWSURL}, {c.Azure, &c.AzureURL}, {c.GCP, &c.GCPURL}} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("listening for a cloud simulator: %w", err)
		}
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
		c.servers = append(c.servers, srv)
		go func() { _ = srv.Serve(l) }()
		*s.url = "http://" + l.Addr().String()
	}
	return c, nil
}

// Close stops the simulators.
func (c *Clouds) Close() {
	for _, s := range c.servers {
		_ = s.Close()
	}
}

// Configure points cfg at the simulators, with anonymous credentials.
func (c *Clouds) Configure(cfg *config.Config) {
	cfg.ClusterName, cfg.CloudCredentials = ClusterName, "anonymous"
	cfg.AWSRegion, cfg.AWSEndpoint = AWSRegion, c.AWSURL
	cfg.AzureSubscriptionID, cfg.AzureTenantID, cfg.AzureOIDCIssuerURL, cfg.AzureEndpoint =
		AzureSubscription, AzureTenant, AzureIssuer, c.AzureURL
	cfg.GCPWorkloadPool, cfg.GCPEndpoint = GCPProject+".svc.id.goog", c.GCPURL
}

// Seed creates in the simulators the identities that objs name: IAM roles,
// managed identities and Google service accounts.
func (c *Clouds) Seed(objs []*unstructured.Unstructured, opts annotations.Options) error {
	var errs []error
	for _, o := range objs {
		conns, perrs := annotations.Parse(o.GetAnnotations(), opts)
		if len(perrs) > 0 {
			errs = append(errs, fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), perrs.ToAggregate()))
			continue
		}
		c.SeedConnections(conns)
	}
	return errors.Join(errs...)
}

// SeedConnections creates the identities of one object's connections.
func (c *Clouds) SeedConnections(conns annotations.Connections) {
	if r := conns.AWS; r != nil {
		c.AWS.AddRole(RoleARN(r))
	}
	if a := conns.Azure; a != nil {
		sub := a.SubscriptionID
		if sub == "" {
			sub = AzureSubscription
		}
		id := a.ClientID
		if id == "" {
			id = fmt.Sprintf("00000000-0000-4000-9000-%012x", len(c.Azure.Identities())+1)
		}
		c.Azure.AddIdentity(sub, a.ResourceGroup, a.Name, id)
	}
	if g := conns.GCP; g != nil {
		c.GCP.AddServiceAccount(g.Email)
	}
}

// RoleARN is the ARN of a role in the simulated account.
func RoleARN(r *annotations.AWSRole) string {
	if r.Account != "" {
		return r.String()
	}
	return "arn:aws:iam::" + AWSAccount + ":role" + r.Path + r.Name
}

// Describe lists the cloud objects the simulators hold.
func (c *Clouds) Describe() []string {
	var lines []string
	for _, a := range c.AWS.Associations() {
		lines = append(lines, fmt.Sprintf("AWS   pod identity association %s: %s/%s -> %s", a.AssociationID, a.Namespace, a.ServiceAccount, a.RoleARN))
	}
	for _, id := range c.Azure.Identities() {
		for _, cr := range c.Azure.Credentials(id.SubscriptionID, id.ResourceGroup, id.Name) {
			lines = append(lines, fmt.Sprintf("Azure federated credential %s on identity %s/%s: %s", cr.Name, id.ResourceGroup, id.Name, cr.Subject))
		}
	}
	for _, email := range c.GCP.ServiceAccounts() {
		p, _ := c.GCP.Policy(email)
		for _, b := range p.Bindings {
			if b.Role == "roles/iam.workloadIdentityUser" {
				lines = append(lines, fmt.Sprintf("GCP   %s grants roles/iam.workloadIdentityUser to %s", email, strings.Join(b.Members, ", ")))
			}
		}
	}
	slices.Sort(lines)
	return lines
}
