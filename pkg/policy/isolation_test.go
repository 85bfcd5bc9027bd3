package policy

import (
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// The cluster of the isolation tests, and its namespaces: "team-prod"
// starts with the name of "team".
const (
	isoAccount  = "111111111111"
	isoOther    = "999999999999"
	isoARN      = "arn:aws:iam::" + isoAccount + ":role/"
	isoOtherARN = "arn:aws:iam::" + isoOther + ":role/"
	isoGCP      = "@my-project.iam.gserviceaccount.com"
	isoOtherGCP = "@other-project.iam.gserviceaccount.com"
	isoAzureID  = "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
	isoSubB     = "00000000-0000-0000-0000-00000000000b"
)

var isoNamespaces = []string{"orders", "team", "team-prod"}

var isoCluster = Cluster{AWSAccount: isoAccount, AzureSubscription: testSub, GCPProject: "my-project"}

// isoInput is one ServiceAccount "app" of namespace ns in the test
// cluster, whose existing namespaces are existing.
func isoInput(ns string, c annotations.Connections, existing []string) Input {
	return Input{Namespace: ns, ServiceAccount: "app", Connections: c, Cluster: isoCluster,
		Namespaces: func(prefix string) []string {
			var out []string
			for _, n := range existing {
				if strings.HasPrefix(n, prefix) {
					out = append(out, n)
				}
			}
			return out
		}}
}

// TestDefaultIsolatesNamespaces: under the shipped default, a namespace
// binds only identities named after it, in the cluster's own account,
// project and subscription, and not those of a longer namespace name.
func TestDefaultIsolatesNamespaces(t *testing.T) {
	azureIn := func(sub, rg, name string) string {
		return "/subscriptions/" + sub + "/resourceGroups/" + rg + isoAzureID + name
	}
	tests := []struct {
		name     string
		ns       string
		kv       []string
		existing []string // nil: isoNamespaces
		wants    []string // clouds of the violations
		reason   string   // part of the message, when refused
	}{
		// AWS role, by name.
		{"own role by name", "team", []string{"aws-role", "team-api"}, nil, nil, ""},
		{"own role in a path", "team", []string{"aws-role", "service-role/team-api"}, nil, nil, ""},
		{"longer namespace's role by name", "team", []string{"aws-role", "team-prod-admin"}, nil, []string{"aws"}, `belongs to namespace "team-prod"`},
		{"longer namespace's role named as it", "team", []string{"aws-role", "team-prod"}, nil, []string{"aws"}, `belongs to namespace "team-prod"`},
		{"longer namespace's role in upper case", "team", []string{"aws-role", "TEAM-PROD-ADMIN"}, nil, []string{"aws"}, `belongs to namespace "team-prod"`},
		{"longer namespace's role in a path", "team", []string{"aws-role", "service-role/team-prod-admin"}, nil, []string{"aws"}, `belongs to namespace "team-prod"`},
		{"longer namespace's own role", "team-prod", []string{"aws-role", "team-prod-admin"}, nil, nil, ""},
		{"shorter namespace's role", "team-prod", []string{"aws-role", "team-api"}, nil, []string{"aws"}, ""},
		{"longer namespace not created yet", "team", []string{"aws-role", "team-prod-admin"}, []string{"team"}, nil, ""},
		// AWS role, by ARN.
		{"own role by ARN in the cluster's account", "team", []string{"aws-role", isoARN + "team-api"}, nil, nil, ""},
		{"longer namespace's role by ARN", "team", []string{"aws-role", isoARN + "team-prod-admin"}, nil, []string{"aws"}, `belongs to namespace "team-prod"`},
		{"own name in another account", "team", []string{"aws-role", isoOtherARN + "team-api"}, nil, []string{"aws"}, "only in the cluster's AWS account"},
		{"longer namespace's name in another account", "team", []string{"aws-role", isoOtherARN + "team-prod-admin"}, nil, []string{"aws"}, "only in the cluster's AWS account"},
		{"own name in another partition and account", "team", []string{"aws-role", "arn:aws-cn:iam::" + isoOther + ":role/team-api"}, nil, []string{"aws"}, "only in the cluster's AWS account"},
		// AWS target role.
		{"own target role", "team", []string{"aws-role", "team-api", "aws-target-role", isoARN + "team-x"}, nil, nil, ""},
		{"target role in another account", "team", []string{"aws-role", "team-api", "aws-target-role", isoOtherARN + "team-x"}, nil, []string{"aws"}, "AWS target role"},
		{"longer namespace's target role", "team", []string{"aws-role", "team-api", "aws-target-role", isoARN + "team-prod-admin"}, nil, []string{"aws"}, `belongs to namespace "team-prod"`},
		// Azure.
		{"own identity", "team", []string{"azure-identity", "team-x"}, nil, nil, ""},
		{"own identity in another group", "team", []string{"azure-identity", azureIn(testSub, "other-rg", "team-x")}, nil, nil, ""},
		{"longer namespace's identity", "team", []string{"azure-identity", "team-prod-admin"}, nil, []string{"azure"}, `belongs to namespace "team-prod"`},
		{"longer namespace's identity in upper case", "team", []string{"azure-identity", "TEAM-PROD-ADMIN", "azure-resource-group", "RG"}, nil, []string{"azure"}, `belongs to namespace "team-prod"`},
		{"own name in another subscription", "team", []string{"azure-identity", azureIn(isoSubB, "rg", "team-x")}, nil, []string{"azure"}, "only in the cluster's subscription"},
		{"longer namespace's name in another subscription", "team", []string{"azure-identity", azureIn(isoSubB, "rg", "team-prod-admin")}, nil, []string{"azure"}, "only in the cluster's subscription"},
		// GCP.
		{"own service account", "team", []string{"gcp-service-account", "team-api" + isoGCP}, nil, nil, ""},
		{"longer namespace's service account", "team", []string{"gcp-service-account", "team-prod-admin" + isoGCP}, nil, []string{"gcp"}, `belongs to namespace "team-prod"`},
		{"own name in another project", "team", []string{"gcp-service-account", "team-api" + isoOtherGCP}, nil, []string{"gcp"}, "only in the cluster's project"},
		{"longer namespace's name in another project", "team", []string{"gcp-service-account", "team-prod-admin" + isoOtherGCP}, nil, []string{"gcp"}, "only in the cluster's project"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			existing := tt.existing
			if existing == nil {
				existing = isoNamespaces
			}
			vs := Default().Evaluate(isoInput(tt.ns, conns(t, tt.kv...), existing))
			var clouds []string
			for _, v := range vs {
				clouds = append(clouds, v.Cloud)
			}
			if strings.Join(clouds, ",") != strings.Join(tt.wants, ",") {
				t.Fatalf("violations in clouds %q, want %q:%s", clouds, tt.wants, messages(vs))
			}
			if tt.reason != "" && !strings.Contains(vs[0].Message, tt.reason) {
				t.Errorf("message %q does not say %q", vs[0].Message, tt.reason)
			}
		})
	}
}

// isoKey is IdentityKey in the test cluster.
func isoKey(cloud string, c annotations.Connections) string {
	return IdentityKey(cloud, c, isoCluster)
}

// TestIdentityKeySpellings: every spelling of one identity has one key, so
// that uniqueIdentity cannot be bypassed by writing it another way.
func TestIdentityKeySpellings(t *testing.T) {
	azureIn := func(sub, rg, name string) string {
		return "/subscriptions/" + sub + "/resourceGroups/" + rg + isoAzureID + name
	}
	tests := []struct {
		name  string
		cloud string
		a, b  annotations.Connections
		same  bool
	}{
		{"bare name and ARN in the cluster's account", "aws", conns(t, "aws-role", "orders-api"), conns(t, "aws-role", isoARN+"orders-api"), true},
		{"bare name and ARN in another account", "aws", conns(t, "aws-role", "orders-api"), conns(t, "aws-role", isoOtherARN+"orders-api"), false},
		{"name with and without a path", "aws", conns(t, "aws-role", "service-role/orders-api"), conns(t, "aws-role", "orders-api"), true},
		{"ARNs with different paths", "aws", conns(t, "aws-role", isoARN+"a/orders-api"), conns(t, "aws-role", isoARN+"b/orders-api"), true},
		{"name in upper case", "aws", conns(t, "aws-role", "ORDERS-API"), conns(t, "aws-role", "orders-api"), true},
		{"ARN in another partition, same account", "aws", conns(t, "aws-role", "arn:aws-cn:iam::"+isoAccount+":role/orders-api"), conns(t, "aws-role", "orders-api"), true},
		{"different names", "aws", conns(t, "aws-role", "orders-api"), conns(t, "aws-role", "orders-web"), false},
		{"Azure group in Unicode upper case", "azure", conns(t, "azure-identity", "x-id", "azure-resource-group", "rg-é"), conns(t, "azure-identity", "X-ID", "azure-resource-group", "RG-É"), true},
		{"Azure name and resource ID in the cluster's subscription", "azure", conns(t, "azure-identity", "x-id", "azure-resource-group", "rg"),
			conns(t, "azure-identity", azureIn(strings.ToUpper(testSub), "RG", "X-ID")), true},
		{"Azure in another subscription", "azure", conns(t, "azure-identity", "x-id", "azure-resource-group", "rg"), conns(t, "azure-identity", azureIn(isoSubB, "rg", "x-id")), false},
		{"Azure group differing in one letter", "azure", conns(t, "azure-identity", "x-id", "azure-resource-group", "rg-é"), conns(t, "azure-identity", "x-id", "azure-resource-group", "rg-e"), false},
		{"GCP email in upper case", "gcp", conns(t, "gcp-service-account", "orders-api"+isoGCP),
			annotations.Connections{GCP: &annotations.GCPServiceAccount{Email: "Orders-API" + strings.ToUpper(isoGCP)}}, true},
		{"GCP in another project", "gcp", conns(t, "gcp-service-account", "orders-api"+isoGCP), conns(t, "gcp-service-account", "orders-api"+isoOtherGCP), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := isoKey(tt.cloud, tt.a), isoKey(tt.cloud, tt.b)
			if ka == "" || kb == "" || (ka == kb) != tt.same {
				t.Errorf("keys %q and %q, want same = %v", ka, kb, tt.same)
			}
		})
	}
}

// TestUniqueIdentityAcrossSpellings: team-a binds a role by name, team-b
// asks for the same role by ARN.
func TestUniqueIdentityAcrossSpellings(t *testing.T) {
	p := mustParse(t, rulesDoc("    - name: unique\n      uniqueIdentity: true\n"))
	bound := map[string][]string{}
	for _, c := range []annotations.Connections{
		conns(t, "aws-role", "orders-api"),
		conns(t, "azure-identity", "x-id", "azure-resource-group", "rg-é"),
	} {
		for _, cl := range []string{CloudAWS, CloudAzure} {
			if k := isoKey(cl, c); k != "" {
				bound[k] = []string{"team-a/app"}
			}
		}
	}
	for _, kv := range [][]string{
		{"aws-role", isoARN + "orders-api"},
		{"aws-role", "service-role/Orders-API"},
		{"azure-identity", "X-ID", "azure-resource-group", "RG-É"},
	} {
		in := isoInput("team-b", conns(t, kv...), nil)
		in.OtherBindings = func(k string) []string { return bound[k] }
		if vs := p.Evaluate(in); len(vs) != 1 || !strings.Contains(vs[0].Message, `already bound by a ServiceAccount in another namespace`) {
			t.Errorf("%q: got%s", kv, messages(vs))
		}
	}
}

// TestRetain: deletion-policy retain keeps cloud objects the policy can no
// longer see, so only namespaces that allowRetain selects may use it.
func TestRetain(t *testing.T) {
	p := mustParse(t, header+`spec:
  allowRetain:
    names: ["ops-*"]
    selector: {matchLabels: {retain: "yes"}}
  rules: []
`)
	all := mustParse(t, header+"spec:\n  allowRetain: {}\n  rules: []\n")
	retain := conns(t, "aws-role", "team-api", "deletion-policy", "retain")
	tests := []struct {
		name   string
		p      *Policy
		ns     string
		labels map[string]string
		c      annotations.Connections
		ok     bool
	}{
		{"default policy", Default(), "team", nil, retain, false},
		{"default policy, delete", Default(), "team", nil, conns(t, "aws-role", "team-api", "deletion-policy", "delete"), true},
		{"selected by name and label", p, "ops-a", map[string]string{"retain": "yes"}, retain, true},
		{"name without the label", p, "ops-a", nil, retain, false},
		{"label without the name", p, "team", map[string]string{"retain": "yes"}, retain, false},
		{"empty selector", all, "team", nil, retain, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := isoInput(tt.ns, tt.c, nil)
			in.NamespaceLabels = tt.labels
			vs := tt.p.Evaluate(in)
			if ok := len(vs) == 0; ok != tt.ok {
				t.Fatalf("allowed = %v, want %v:%s", ok, tt.ok, messages(vs))
			}
			if !tt.ok && (vs[0].Rule != "allowRetain" || vs[0].Mode != Enforce || vs[0].Cloud != "" ||
				!strings.Contains(vs[0].Message, "deletion-policy")) {
				t.Errorf("violation %+v", vs[0])
			}
		})
	}
}

// TestNamespaceOwnership: which patterns ownership applies to.
func TestNamespaceOwnership(t *testing.T) {
	p := mustParse(t, rulesDoc(`    - name: own
      awsRoles: ["${namespace}-${serviceAccount}", "shared-*", "arn:aws:iam::*:role/${namespace}-*"]
`))
	tests := []struct {
		name, ns, sa, role string
		ok                 bool
	}{
		// team-prod could claim team-prod-admin with its ServiceAccount "admin".
		{"${serviceAccount} pattern, longer namespace's identity", "team", "prod-admin", "team-prod-admin", false},
		{"${serviceAccount} pattern, own identity", "team", "api", "team-api", true},
		{"pattern without ${namespace}", "team", "x", "shared-prod", true},
		{"ARN pattern, longer namespace's identity", "team", "x", isoOtherARN + "team-prod-x", false},
		{"ARN pattern, own identity", "team", "x", isoOtherARN + "team-x", true},
		{"longer namespace, shorter's identity", "team-prod", "x", isoOtherARN + "team-x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := isoInput(tt.ns, conns(t, "aws-role", tt.role), isoNamespaces)
			in.ServiceAccount = tt.sa
			vs := p.Evaluate(in)
			if ok := len(vs) == 0; ok != tt.ok {
				t.Errorf("allowed = %v, want %v:%s", ok, tt.ok, messages(vs))
			}
		})
	}
	// Namespaces that do not start with the namespace's name own nothing
	// of it, whatever the callback returns.
	in := isoInput("team", conns(t, "aws-role", "team-prod-x"), nil)
	in.Namespaces = func(string) []string { return []string{"other", "tea", "team"} }
	if vs := Default().Evaluate(in); len(vs) != 0 {
		t.Errorf("unrelated namespaces took the identity:%s", messages(vs))
	}
	// The longest owner is named.
	in.Namespaces = func(string) []string { return []string{"team-prod", "team-prod-x", "team-p"} }
	if vs := Default().Evaluate(in); len(vs) != 1 || !strings.Contains(vs[0].Message, `belongs to namespace "team-prod-x"`) {
		t.Errorf("got%s", messages(vs))
	}
}
