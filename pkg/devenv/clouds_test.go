package devenv

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/config"
	fakeaws "github.com/keyless-dev/keyless/pkg/fakecloud/aws"
	fakeazure "github.com/keyless-dev/keyless/pkg/fakecloud/azure"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

// simulators returns the simulators as StartClouds seeds them, not served.
func simulators() *Clouds {
	c := &Clouds{AWS: fakeaws.New(), Azure: fakeazure.NewServer(), GCP: fakegcp.New()}
	c.AWS.AddCluster(ClusterName, AWSAccount, AWSRegion)
	c.GCP.EnablePool(GCPProject + ".svc.id.goog")
	return c
}

func TestRoleARN(t *testing.T) {
	tests := []struct {
		role annotations.AWSRole
		want string
	}{
		{annotations.AWSRole{Path: "/", Name: "orders-api"}, "arn:aws:iam::" + AWSAccount + ":role/orders-api"},
		{annotations.AWSRole{Path: "/team/", Name: "orders-api"}, "arn:aws:iam::" + AWSAccount + ":role/team/orders-api"},
		{annotations.AWSRole{Partition: "aws", Account: "210987654321", Path: "/", Name: "x"}, "arn:aws:iam::210987654321:role/x"},
	}
	for _, tt := range tests {
		if got := RoleARN(&tt.role); got != tt.want {
			t.Errorf("RoleARN(%+v) = %q, want %q", tt.role, got, tt.want)
		}
	}
}

// TestSeed: the identities that objects name exist in the simulators, so
// that Keyless can connect them, and an object whose annotations do not
// parse is reported without stopping the others.
func TestSeed(t *testing.T) {
	c := simulators()
	objs := []*unstructured.Unstructured{
		withAnnotations("Deployment", "orders-api", annotations.KeyAWSRole, "orders-api", annotations.KeyAzureIdentity, "orders-id",
			annotations.KeyGCPServiceAccount, "orders-api@"+GCPProject+".iam.gserviceaccount.com"),
		withAnnotations("Deployment", "broken", annotations.KeyAWSRole, "arn:nope"),
		withAnnotations("Job", "billing", annotations.KeyAzureIdentity, "billing-id", annotations.KeyAzureResourceGroup, "billing-rg",
			annotations.KeyAzureClientID, "00000000-0000-4000-8000-00000000000b"),
	}
	err := c.Seed(objs, annotations.Options{AzureDefaultResourceGroup: "default-rg"})
	if err == nil || !strings.Contains(err.Error(), "Deployment broken") {
		t.Errorf("Seed = %v, want an error naming Deployment broken", err)
	}
	if _, err := c.AWS.AddAssociation(ClusterName, "orders", "orders-api", "arn:aws:iam::"+AWSAccount+":role/orders-api", nil); err != nil {
		t.Errorf("the seeded role cannot be associated: %v", err)
	}
	if _, err := c.AWS.AddAssociation(ClusterName, "orders", "other", "arn:aws:iam::"+AWSAccount+":role/unseeded", nil); err == nil {
		t.Error("a role that was not seeded can be associated; the check above proves nothing")
	}
	var ids []string
	for _, id := range c.Azure.Identities() {
		ids = append(ids, id.SubscriptionID+"/"+id.ResourceGroup+"/"+id.Name+" "+id.ClientID)
	}
	slices.Sort(ids)
	want := []string{
		AzureSubscription + "/billing-rg/billing-id 00000000-0000-4000-8000-00000000000b",
		AzureSubscription + "/default-rg/orders-id 00000000-0000-4000-9000-000000000001",
	}
	if !slices.Equal(ids, want) {
		t.Errorf("Azure identities = %q, want %q", ids, want)
	}
	if got := c.GCP.ServiceAccounts(); !slices.Equal(got, []string{"orders-api@" + GCPProject + ".iam.gserviceaccount.com"}) {
		t.Errorf("GCP service accounts = %q", got)
	}
}

// TestSeedExamples: every identity of deploy/examples can be seeded.
func TestSeedExamples(t *testing.T) {
	objs, err := Decode(deploy.Examples)
	if err != nil {
		t.Fatal(err)
	}
	if err := simulators().Seed(objs, annotations.Options{}); err != nil {
		t.Error(err)
	}
}

func withAnnotations(kind, name string, kv ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetKind(kind)
	u.SetNamespace("orders")
	u.SetName(name)
	a := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i]] = kv[i+1]
	}
	u.SetAnnotations(a)
	return u
}

func TestDescribeClouds(t *testing.T) {
	c := simulators()
	if got := c.Describe(); len(got) != 0 {
		t.Errorf("Describe of empty simulators = %q", got)
	}
	role := "arn:aws:iam::" + AWSAccount + ":role/orders-api"
	c.AWS.AddRole(role)
	a, err := c.AWS.AddAssociation(ClusterName, "orders", "orders-api", role, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Azure.AddIdentity(AzureSubscription, "rg", "orders-id", "")
	if err := c.Azure.PutCredential(AzureSubscription, "rg", "orders-id",
		fakeazure.Credential{Name: "cred-1", Issuer: AzureIssuer, Subject: "system:serviceaccount:orders:orders-api",
			Audiences: []string{"api://AzureADTokenExchange"}}); err != nil {
		t.Fatal(err)
	}
	gsa := "orders-api@" + GCPProject + ".iam.gserviceaccount.com"
	c.GCP.AddServiceAccount(gsa)
	member := "serviceAccount:" + GCPProject + ".svc.id.goog[orders/orders-api]"
	if err := c.GCP.SetPolicy(gsa, fakegcp.Policy{Bindings: []fakegcp.Binding{
		{Role: "roles/iam.workloadIdentityUser", Members: []string{member}},
		{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{"user:someone@example.com"}},
	}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"AWS   pod identity association " + a.AssociationID + ": orders/orders-api -> " + role,
		"Azure federated credential cred-1 on identity rg/orders-id: system:serviceaccount:orders:orders-api",
		"GCP   " + gsa + " grants roles/iam.workloadIdentityUser to " + member,
	}
	if got := c.Describe(); !slices.Equal(got, want) {
		t.Errorf("Describe =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStartClouds: the simulators answer on loopback, Keyless's
// configuration pointed at them is valid, and Close stops them.
func TestStartClouds(t *testing.T) {
	c, err := StartClouds()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	c.Configure(&cfg)
	if errs := config.Validate(&cfg); len(errs) > 0 {
		t.Errorf("the configuration for the simulators is invalid: %v", errs.ToAggregate())
	}
	for _, u := range []string{cfg.AWSEndpoint, cfg.AzureEndpoint, cfg.GCPEndpoint} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("endpoint %q, want one on loopback", u)
		}
		resp, err := http.Get(u) //nolint:gosec // G107: the loopback simulator
		if err != nil {
			t.Errorf("GET %s: %v", u, err)
			continue
		}
		_ = resp.Body.Close()
	}
	if cfg.ClusterName != ClusterName || cfg.CloudCredentials != "anonymous" || cfg.GCPProject() != GCPProject {
		t.Errorf("Configure = %+v, want the simulated cluster, anonymous credentials and the simulated project", cfg)
	}
	c.Close()
	if resp, err := http.Get(cfg.AWSEndpoint); err == nil {
		_ = resp.Body.Close()
		t.Error("the AWS simulator still answers after Close")
	}
}
