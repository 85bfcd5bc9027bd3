package policy

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// TestEvaluateDefault runs the default policy in namespace "orders".
func TestEvaluateDefault(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:role/"
	tests := []struct {
		name  string
		kv    []string // annotations without the prefix
		wants []string // clouds of the violations
	}{
		{"AWS name with prefix", []string{"aws-role", "orders-api"}, nil},
		{"AWS name equal to namespace", []string{"aws-role", "orders"}, nil},
		{"AWS name of another namespace", []string{"aws-role", "payments-api"}, []string{"aws"}},
		{"AWS name sharing letters only", []string{"aws-role", "ordersapi"}, []string{"aws"}},
		{"AWS name in a path", []string{"aws-role", "service-role/orders-api"}, nil},
		{"AWS name in a deep path", []string{"aws-role", "a/b/c/orders"}, nil},
		{"AWS path with prefix, name without", []string{"aws-role", "orders-team/payments-admin"}, []string{"aws"}},
		{"AWS name in other case", []string{"aws-role", "Orders-API"}, nil},
		{"AWS ARN", []string{"aws-role", arn + "orders-api"}, nil},
		{"AWS ARN in a path", []string{"aws-role", arn + "team/orders-api"}, nil},
		{"AWS ARN in another partition", []string{"aws-role", "arn:aws-cn:iam::123456789012:role/orders-api"}, nil},
		{"AWS ARN of another namespace", []string{"aws-role", arn + "payments-api"}, []string{"aws"}},
		{"AWS target role", []string{"aws-role", "orders-api", "aws-target-role", arn + "orders-cross"}, nil},
		{"AWS target role of another namespace", []string{"aws-role", "orders-api", "aws-target-role", arn + "payments"}, []string{"aws"}},
		{"Azure name", []string{"azure-identity", "orders-x"}, nil},
		{"Azure name in a resource group", []string{"azure-identity", "orders-x", "azure-resource-group", "rg"}, nil},
		{"Azure resource ID", []string{"azure-identity", "/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders"}, nil},
		{"Azure name in other case", []string{"azure-identity", "ORDERS-X"}, nil},
		{"Azure name of another namespace", []string{"azure-identity", "payments-x"}, []string{"azure"}},
		{"Azure resource group named after namespace", []string{"azure-identity", "payments", "azure-resource-group", "orders-rg"}, []string{"azure"}},
		{"GCP email", []string{"gcp-service-account", "orders-api" + testProject}, nil},
		{"GCP email equal to namespace", []string{"gcp-service-account", "orders" + testProject}, nil},
		{"GCP email of another namespace", []string{"gcp-service-account", "others" + testProject}, []string{"gcp"}},
		{"all three, two denied", []string{"aws-role", "payments", "azure-identity", "orders", "gcp-service-account", "others" + testProject}, []string{"aws", "gcp"}},
		{"no connection", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Namespace: "orders", ServiceAccount: "api", Connections: conns(t, tt.kv...), Cluster: testCluster}
			vs := Default().Evaluate(in)
			var clouds []string
			for _, v := range vs {
				clouds = append(clouds, v.Cloud)
				if v.Rule != DefaultRuleName || v.Mode != Enforce {
					t.Errorf("violation %+v, want rule %s in enforce mode", v, DefaultRuleName)
				}
			}
			if !slices.Equal(clouds, tt.wants) {
				t.Errorf("violations in clouds %q, want %q:%s", clouds, tt.wants, messages(vs))
			}
		})
	}
}

func TestEvaluateMessages(t *testing.T) {
	const allowedAWS = `allowed: "orders", "orders-*", "*/orders", "*/orders-*"`
	tests := []struct {
		name     string
		kv       []string
		cluster  Cluster
		existing []string
		want     string
	}{{
		name:    "AWS",
		kv:      []string{"aws-role", "payments-api"},
		cluster: testCluster,
		want:    `rule "namespace-prefix": AWS role "payments-api" is not allowed in namespace "orders"; ` + allowedAWS,
	}, {
		name:     "AWS, owned by a longer namespace",
		kv:       []string{"aws-role", "orders-eu-api"},
		cluster:  testCluster,
		existing: []string{"orders", "orders-eu", "orders-e"},
		want: `rule "namespace-prefix": AWS role "orders-eu-api" is not allowed in namespace "orders"; it belongs to namespace "orders-eu", ` +
			`for which the ${namespace} patterns match it too (the longest namespace name wins); use an identity whose name does not ` +
			`start with "orders-eu", or ask an admin to allow this one by a pattern without ${namespace}; ` + allowedAWS,
	}, {
		name:    "AWS, ARN in another account",
		kv:      []string{"aws-role", "arn:aws:iam::999999999999:role/orders-api"},
		cluster: testCluster,
		want: `rule "namespace-prefix": AWS role "arn:aws:iam::999999999999:role/orders-api" is not allowed in namespace "orders"; ` +
			`name patterns match role ARNs only in the cluster's AWS account 123456789012, not 999999999999: allow roles of another ` +
			`account with an ARN pattern, e.g. "arn:aws:iam::999999999999:role/orders-api"; ` + allowedAWS,
	}, {
		name: "AWS, ARN with the cluster's account unknown",
		kv:   []string{"aws-role", "arn:aws:iam::123456789012:role/orders-api"},
		want: `rule "namespace-prefix": AWS role "arn:aws:iam::123456789012:role/orders-api" is not allowed in namespace "orders"; ` +
			`name patterns match role ARNs only in the cluster's own AWS account, which is not configured: set --aws-account-id, ` +
			`or allow the ARN with an ARN pattern; ` + allowedAWS,
	}, {
		name:    "Azure",
		kv:      []string{"azure-identity", "payments", "azure-resource-group", "rg"},
		cluster: testCluster,
		want:    `rule "namespace-prefix": Azure identity "` + testSub + `/rg/payments" is not allowed in namespace "orders"; allowed: "*/orders", "*/orders-*"`,
	}, {
		name:    "Azure, another subscription",
		kv:      []string{"azure-identity", "/subscriptions/" + testSub[:35] + "2/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders"},
		cluster: testCluster,
		want: `rule "namespace-prefix": Azure identity "` + testSub[:35] + `2/rg/orders" is not allowed in namespace "orders"; ` +
			`RESOURCEGROUP/NAME patterns match identities only in the cluster's subscription ` + testSub + `, not ` + testSub[:35] + `2: ` +
			`allow identities of another subscription with a SUBSCRIPTION/RESOURCEGROUP/NAME pattern, e.g. "` + testSub[:35] + `2/rg/orders"; ` +
			`allowed: "*/orders", "*/orders-*"`,
	}, {
		name:    "GCP",
		kv:      []string{"gcp-service-account", "others" + testProject},
		cluster: testCluster,
		want:    `rule "namespace-prefix": GCP service account "others@my-project.iam.gserviceaccount.com" is not allowed in namespace "orders"; allowed: "orders", "orders-*"`,
	}, {
		name:    "GCP, another project",
		kv:      []string{"gcp-service-account", "orders-api@other-project.iam.gserviceaccount.com"},
		cluster: testCluster,
		want: `rule "namespace-prefix": GCP service account "orders-api@other-project.iam.gserviceaccount.com" is not allowed in namespace "orders"; ` +
			`patterns without "@" match service accounts only in the cluster's project my-project, not other-project: allow accounts of ` +
			`another project with an email pattern, e.g. "orders-api@other-project.iam.gserviceaccount.com"; allowed: "orders", "orders-*"`,
	}, {
		name: "GCP, the cluster's project unknown",
		kv:   []string{"gcp-service-account", "orders-api" + testProject},
		want: `rule "namespace-prefix": GCP service account "orders-api@my-project.iam.gserviceaccount.com" is not allowed in namespace "orders"; ` +
			`patterns without "@" match service accounts only in the cluster's own project, which is not configured: set --gcp-workload-pool, ` +
			`or allow the account with an email pattern; allowed: "orders", "orders-*"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Namespace: "orders", Connections: conns(t, tt.kv...), Cluster: tt.cluster,
				Namespaces: func(string) []string { return tt.existing }}
			vs := Default().Evaluate(in)
			if len(vs) != 1 || vs[0].Message != tt.want {
				t.Errorf("got%s\nwant\n  %s", messages(vs), tt.want)
			}
		})
	}
}

func TestEvaluateTemplates(t *testing.T) {
	p := mustParse(t, rulesDoc(`    - name: own-identity
      awsRoles: ["${namespace}-${serviceAccount}", "arn:aws:iam::123456789012:role/${namespace}/${serviceAccount}"]
      azureIdentities: ["*/${namespace}/${serviceAccount}"]
      gcpServiceAccounts: ["${serviceAccount}@${namespace}-prod.iam.gserviceaccount.com"]
`))
	tests := []struct {
		name, sa string
		kv       []string
		ok       bool
	}{
		{"AWS name", "api", []string{"aws-role", "orders-api"}, true},
		{"AWS name of another account", "web", []string{"aws-role", "orders-api"}, false},
		{"AWS ARN with path", "api", []string{"aws-role", "arn:aws:iam::123456789012:role/orders/api"}, true},
		{"AWS ARN in another account", "api", []string{"aws-role", "arn:aws:iam::999999999999:role/orders/api"}, false},
		{"Azure", "api", []string{"azure-identity", "api", "azure-resource-group", "orders"}, true},
		{"Azure, wrong group", "api", []string{"azure-identity", "api", "azure-resource-group", "payments"}, false},
		{"GCP", "api-sa", []string{"gcp-service-account", "api-sa@orders-prod.iam.gserviceaccount.com"}, true},
		{"GCP, wrong project", "api-sa", []string{"gcp-service-account", "api-sa@payments-prod.iam.gserviceaccount.com"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := p.Evaluate(Input{Namespace: "orders", ServiceAccount: tt.sa, Connections: conns(t, tt.kv...)})
			if ok := len(vs) == 0; ok != tt.ok {
				t.Errorf("allowed = %v, want %v:%s", ok, tt.ok, messages(vs))
			}
		})
	}
	// The message writes the templates out.
	vs := p.Evaluate(Input{Namespace: "orders", ServiceAccount: "web", Connections: conns(t, "gcp-service-account", "api-sa"+testProject)})
	if len(vs) != 1 || !strings.HasSuffix(vs[0].Message, `allowed: "web@orders-prod.iam.gserviceaccount.com"`) {
		t.Errorf("got%s", messages(vs))
	}
}

func TestEvaluateNamespaceSelection(t *testing.T) {
	p := mustParse(t, rulesDoc(`    - name: by-name
      namespaces: {names: ["team-*", "prod"]}
      awsRoles: []
    - name: by-label
      namespaces:
        selector:
          matchLabels: {tier: prod}
          matchExpressions: [{key: team, operator: Exists}]
      azureIdentities: []
    - name: by-both
      namespaces:
        names: ["team-?"]
        selector: {matchLabels: {tier: prod}}
      gcpServiceAccounts: []
    - name: everywhere
      namespaces: {selector: {}}
      requireConnection: true
`))
	c := conns(t, "aws-role", "xyz", "azure-identity", "xyz", "gcp-service-account", "x-account"+testProject)
	tests := []struct {
		ns     string
		labels map[string]string
		rules  []string
	}{
		{"team-a", nil, []string{"by-name"}},
		{"prod", nil, []string{"by-name"}},
		{"production", nil, nil},
		{"other", map[string]string{"tier": "prod", "team": "x"}, []string{"by-label"}},
		{"other", map[string]string{"tier": "prod"}, nil},
		{"team-a", map[string]string{"tier": "prod"}, []string{"by-name", "by-both"}},
		{"team-ab", map[string]string{"tier": "prod", "team": ""}, []string{"by-name", "by-label"}},
		{"team-b", map[string]string{"tier": "prod", "team": "b"}, []string{"by-name", "by-label", "by-both"}},
	}
	for _, tt := range tests {
		t.Run(tt.ns, func(t *testing.T) {
			vs := p.Evaluate(Input{Namespace: tt.ns, NamespaceLabels: tt.labels, Connections: c})
			var rules []string
			for _, v := range vs {
				rules = append(rules, v.Rule)
			}
			if !slices.Equal(rules, tt.rules) {
				t.Errorf("labels %v: violated %q, want %q", tt.labels, rules, tt.rules)
			}
		})
	}
	// The catch-all rule applies to a workload without connection anywhere.
	vs := p.Evaluate(Input{Namespace: "anything", Workload: "Deployment/api"})
	if len(vs) != 1 || vs[0].Rule != "everywhere" {
		t.Errorf("got%s", messages(vs))
	}
}

// TestEvaluateModesAndOrder: every rule must hold, violations come in rule
// order and carry their rule's mode.
func TestEvaluateModesAndOrder(t *testing.T) {
	p := mustParse(t, rulesDoc(`    - name: audit-all
      mode: audit
      awsRoles: ["audited-*"]
    - name: prefix
      awsRoles: ["${namespace}-*"]
    - name: warn-paths
      mode: warn
      awsRoles: ["*/*"]
`))
	vs := p.Evaluate(Input{Namespace: "orders", Connections: conns(t, "aws-role", "orders-api")})
	want := []Violation{
		{Rule: "audit-all", Mode: Audit, Cloud: "aws", Message: `rule "audit-all": AWS role "orders-api" is not allowed in namespace "orders"; allowed: "audited-*"`},
		{Rule: "warn-paths", Mode: Warn, Cloud: "aws", Message: `rule "warn-paths": AWS role "orders-api" is not allowed in namespace "orders"; allowed: "*/*"`},
	}
	if !reflect.DeepEqual(vs, want) {
		t.Fatalf("got%s\nwant%s", messages(vs), messages(want))
	}
	if got := Enforced(vs); got != nil {
		t.Errorf("Enforced = %v, want none", got)
	}
	if got := ByMode(vs, Warn); !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("ByMode(warn) = %v", got)
	}
	vs = p.Evaluate(Input{Namespace: "orders", Connections: conns(t, "aws-role", "audited-x")})
	if got := Enforced(vs); len(got) != 1 || got[0].Rule != "prefix" {
		t.Errorf("Enforced = %v, want rule prefix", got)
	}
	if got := vs[0].String(); got != `rule "prefix": AWS role "audited-x" is not allowed in namespace "orders"; allowed: "orders-*" (enforce)` {
		t.Errorf("String() = %s", got)
	}
}

// TestEvaluateUnconstrainedAndEmpty: a cloud left out is not constrained;
// an empty list allows nothing.
func TestEvaluateUnconstrainedAndEmpty(t *testing.T) {
	p := mustParse(t, rulesDoc("    - name: no-azure\n      azureIdentities: []\n"))
	if vs := p.Evaluate(Input{Namespace: "orders", Connections: conns(t, "aws-role", "anything", "gcp-service-account", "anything"+testProject)}); len(vs) != 0 {
		t.Errorf("AWS and GCP should be unconstrained:%s", messages(vs))
	}
	vs := p.Evaluate(Input{Namespace: "orders", Connections: conns(t, "azure-identity", "orders")})
	if len(vs) != 1 || !strings.HasSuffix(vs[0].Message, "; this rule allows none here") {
		t.Errorf("got%s", messages(vs))
	}
}

func TestEvaluateUniqueIdentity(t *testing.T) {
	p := mustParse(t, rulesDoc("    - name: unique\n      uniqueIdentity: true\n"))
	bound := map[string][]string{
		"aws:123456789012/orders-api":     {"payments/api"},
		"azure:" + testSub + "/rg/orders": {"a/x", "orders/y", "b/z"},
	}
	var asked []string
	others := func(key string) []string { asked = append(asked, key); return bound[key] }
	in := Input{Namespace: "orders", ServiceAccount: "api", Cluster: Cluster{AzureSubscription: testSub}, OtherBindings: others,
		Connections: conns(t, "aws-role", "arn:aws:iam::123456789012:role/Orders-API", "azure-identity", "Orders",
			"azure-resource-group", "RG", "gcp-service-account", "orders-api"+testProject)}
	vs := p.Evaluate(in)
	wantAsked := []string{"aws:123456789012/orders-api", "azure:" + testSub + "/rg/orders", "gcp:orders-api" + testProject}
	if !slices.Equal(asked, wantAsked) {
		t.Errorf("asked for %q, want %q", asked, wantAsked)
	}
	want := []string{
		// Only ServiceAccounts of the requester's own namespace are named:
		// a denial must not tell a tenant what other namespaces hold.
		`rule "unique": AWS role "arn:aws:iam::123456789012:role/Orders-API" is already bound by a ServiceAccount in another namespace; a cloud identity may be bound by one ServiceAccount only`,
		`rule "unique": Azure identity "` + testSub + `/RG/Orders" is already bound by ServiceAccount "orders/y" and 2 ServiceAccounts in other namespaces; a cloud identity may be bound by one ServiceAccount only`,
	}
	if len(vs) != len(want) {
		t.Fatalf("got%s", messages(vs))
	}
	for i := range want {
		if vs[i].Message != want[i] || vs[i].Cloud != []string{"aws", "azure"}[i] {
			t.Errorf("violation %d = %+v\nwant message %s", i, vs[i], want[i])
		}
	}
	in.OtherBindings = nil // no index: nothing to compare with
	if vs := p.Evaluate(in); len(vs) != 0 {
		t.Errorf("without OtherBindings:%s", messages(vs))
	}
}

// TestBinds: a binding counts for uniqueIdentity only where the policy
// lets it stand in its own namespace.
func TestBinds(t *testing.T) {
	p := mustParse(t, rulesDoc("    - name: own\n      awsRoles: [\"${namespace}-*\"]\n"+
		"    - name: watched\n      mode: warn\n      awsRoles: [\"none\"]\n"+
		"    - name: unique\n      uniqueIdentity: true\n"))
	c := conns(t, "aws-role", "team-prod-x")
	key := IdentityKey(CloudAWS, c, Cluster{AWSAccount: "123456789012"})
	longer := func(prefix string) []string {
		return slices.DeleteFunc([]string{"team", "team-prod"}, func(n string) bool { return !strings.HasPrefix(n, prefix) })
	}
	everywhere := func(string) []string { return []string{"elsewhere"} }
	tests := []struct {
		name string
		in   Input
		want bool
	}{
		{"its own namespace's identity", Input{Namespace: "team-prod", ServiceAccount: "app", Connections: c, Namespaces: longer}, true},
		{"a longer namespace's identity: refused there", Input{Namespace: "team", ServiceAccount: "app", Connections: c, Namespaces: longer}, false},
		{"before the longer namespace exists", Input{Namespace: "team", ServiceAccount: "app", Connections: c}, true},
		{"another key", Input{Namespace: "team-prod", ServiceAccount: "app", Connections: conns(t, "aws-role", "team-prod-y"), Namespaces: longer}, false},
		// uniqueIdentity is not asked while it asks: no loop, no bindings.
		{"others bind it too", Input{Namespace: "team-prod", ServiceAccount: "app", Connections: c, Namespaces: longer,
			OtherBindings: everywhere}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Cluster = Cluster{AWSAccount: "123456789012"}
			if got := p.Binds(tt.in, key); got != tt.want {
				t.Errorf("Binds = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEvaluateRequireNamespaceLabel(t *testing.T) {
	p := mustParse(t, rulesDoc(`    - name: opt-in
      requireNamespaceLabel: keyless.dev/enabled=true
    - name: has-owner
      mode: warn
      requireNamespaceLabel: owner
`))
	c := conns(t, "aws-role", "orders-api")
	tests := []struct {
		labels map[string]string
		conns  annotations.Connections
		rules  []string
	}{
		{map[string]string{"keyless.dev/enabled": "true", "owner": ""}, c, nil},
		{map[string]string{"keyless.dev/enabled": "false", "owner": "x"}, c, []string{"opt-in"}},
		{nil, c, []string{"opt-in", "has-owner"}},
		{nil, annotations.Connections{}, nil}, // no connection, nothing to opt in to
	}
	for _, tt := range tests {
		vs := p.Evaluate(Input{Namespace: "orders", NamespaceLabels: tt.labels, Connections: tt.conns})
		var rules []string
		for _, v := range vs {
			rules = append(rules, v.Rule)
			if v.Cloud != "" {
				t.Errorf("cloud %q, want none", v.Cloud)
			}
		}
		if !slices.Equal(rules, tt.rules) {
			t.Errorf("labels %v: violated %q, want %q:%s", tt.labels, rules, tt.rules, messages(vs))
		}
	}
	vs := p.Evaluate(Input{Namespace: "orders", Connections: c})
	want := `rule "opt-in": namespace "orders" has no label "keyless.dev/enabled=true", which opts a namespace in to cloud connections; ` +
		`label it (kubectl label namespace orders keyless.dev/enabled=true) or remove the connection`
	if vs[0].Message != want {
		t.Errorf("got %s\nwant %s", vs[0].Message, want)
	}
	if want := `namespace "orders" has no label "owner" (any value)`; !strings.Contains(vs[1].Message, want) {
		t.Errorf("got %s\nwant it to contain %s", vs[1].Message, want)
	}
}

func TestEvaluateRequireConnection(t *testing.T) {
	p := mustParse(t, rulesDoc("    - name: connected\n      requireConnection: true\n"))
	tests := []struct {
		name     string
		workload string
		conns    annotations.Connections
		want     string
	}{
		{"workload without connection", "Deployment/api", annotations.Connections{},
			`rule "connected": Deployment/api in namespace "orders" has no connection, but every workload here needs one; ` +
				`add keyless.dev/aws-role, keyless.dev/azure-identity or keyless.dev/gcp-service-account`},
		{"workload with connection", "Deployment/api", conns(t, "aws-role", "x"), ""},
		{"ServiceAccount without connection", "", annotations.Connections{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := p.Evaluate(Input{Namespace: "orders", Workload: tt.workload, Connections: tt.conns})
			switch {
			case tt.want == "" && len(vs) != 0:
				t.Errorf("got%s", messages(vs))
			case tt.want != "" && (len(vs) != 1 || vs[0].Message != tt.want):
				t.Errorf("got%s\nwant\n  %s", messages(vs), tt.want)
			}
		})
	}
}

// TestEvaluateCase: AWS role names and Azure names without case; GCP
// emails, ARN partitions, accounts and role paths exactly.
func TestEvaluateCase(t *testing.T) {
	const arnPattern = "arn:aws:iam::123456789012:role/Team/ORDERS-*"
	tests := []struct {
		name, field, pattern string
		c                    annotations.Connections
		ok                   bool
	}{
		{"ARN, name in other case", "awsRoles", arnPattern, conns(t, "aws-role", "arn:aws:iam::123456789012:role/Team/orders-api"), true},
		{"ARN, path in other case", "awsRoles", arnPattern, conns(t, "aws-role", "arn:aws:iam::123456789012:role/team/orders-api"), false},
		{"ARN, other partition", "awsRoles", arnPattern, conns(t, "aws-role", "arn:aws-cn:iam::123456789012:role/Team/orders-api"), false},
		{"ARN, other account", "awsRoles", arnPattern, conns(t, "aws-role", "arn:aws:iam::123456789013:role/Team/orders-api"), false},
		{"name, name in other case", "awsRoles", "Team/ORDERS-*", conns(t, "aws-role", "Team/Orders-Api"), true},
		{"name, path in other case", "awsRoles", "Team/ORDERS-*", conns(t, "aws-role", "TEAM/orders-api"), false},
		{"Azure in other case", "azureIdentities", "SUB/RG/ORDERS", annotations.Connections{Azure: &annotations.AzureIdentity{SubscriptionID: "sub", ResourceGroup: "rg", Name: "Orders"}}, true},
		{"GCP", "gcpServiceAccounts", "orders-api@*", annotations.Connections{GCP: &annotations.GCPServiceAccount{Email: "orders-api@p"}}, true},
		{"GCP in other case", "gcpServiceAccounts", "orders-api@*", annotations.Connections{GCP: &annotations.GCPServiceAccount{Email: "ORDERS-api@p"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, rulesDoc("    - name: case\n      "+tt.field+": [\""+tt.pattern+"\"]\n"))
			vs := p.Evaluate(Input{Namespace: "orders", Connections: tt.c})
			if ok := len(vs) == 0; ok != tt.ok {
				t.Errorf("allowed = %v, want %v:%s", ok, tt.ok, messages(vs))
			}
		})
	}
}

// TestEvaluateAWSPatternKinds: ARN patterns match ARNs; name patterns
// match bare names and ARNs in the cluster's account, if known.
func TestEvaluateAWSPatternKinds(t *testing.T) {
	arnOnly := mustParse(t, rulesDoc("    - name: arn\n      awsRoles: [\"arn:aws:iam::123456789012:role/*\"]\n"))
	nameOnly := mustParse(t, rulesDoc("    - name: name\n      awsRoles: [\"orders-*\"]\n"))
	bare, arn := conns(t, "aws-role", "orders-api"), conns(t, "aws-role", "arn:aws:iam::123456789012:role/orders-api")
	other := conns(t, "aws-role", "arn:aws:iam::123456789013:role/orders-api")
	for _, tt := range []struct {
		name    string
		p       *Policy
		c       annotations.Connections
		account string
		ok      bool
	}{
		{"bare name, ARN pattern", arnOnly, bare, testAccount, false},
		{"ARN, ARN pattern", arnOnly, arn, "", true},
		{"bare name, name pattern", nameOnly, bare, "", true},
		{"ARN in the cluster's account, name pattern", nameOnly, arn, testAccount, true},
		{"ARN, name pattern, the cluster's account unknown", nameOnly, arn, "", false},
		{"ARN in another account, name pattern", nameOnly, other, testAccount, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Namespace: "orders", Connections: tt.c, Cluster: Cluster{AWSAccount: tt.account}}
			if ok := len(tt.p.Evaluate(in)) == 0; ok != tt.ok {
				t.Errorf("allowed = %v, want %v", ok, tt.ok)
			}
		})
	}
}

// TestEvaluateClusterPatterns: two-part Azure patterns and GCP patterns
// without "@" match only in the cluster's subscription and project;
// three-part and email patterns anywhere they say.
func TestEvaluateClusterPatterns(t *testing.T) {
	p := mustParse(t, rulesDoc(`    - name: azure
      azureIdentities: ["rg/${namespace}-*", "`+testSub[:35]+`9/rg/shared"]
    - name: gcp
      gcpServiceAccounts: ["${namespace}-*", "shared@other-project.iam.gserviceaccount.com"]
`))
	otherSub := "/subscriptions/" + testSub[:35] + "9/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
	tests := []struct {
		name    string
		kv      []string
		cluster Cluster
		ok      bool
	}{
		{"Azure by name", []string{"azure-identity", "orders-x", "azure-resource-group", "rg"}, testCluster, true},
		{"Azure by name, subscription unknown", []string{"azure-identity", "orders-x", "azure-resource-group", "rg"}, Cluster{}, true},
		{"Azure by ID in the cluster's subscription", []string{"azure-identity", "/subscriptions/" + testSub + "/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-x"}, testCluster, true},
		{"Azure by ID, subscription unknown", []string{"azure-identity", "/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-x"}, Cluster{}, false},
		{"Azure in another subscription", []string{"azure-identity", otherSub + "orders-x"}, testCluster, false},
		{"Azure three-part pattern", []string{"azure-identity", otherSub + "shared"}, testCluster, true},
		{"Azure in another group", []string{"azure-identity", "orders-x", "azure-resource-group", "rg2"}, testCluster, false},
		{"GCP in the cluster's project", []string{"gcp-service-account", "orders-x" + testProject}, testCluster, true},
		{"GCP, project unknown", []string{"gcp-service-account", "orders-x" + testProject}, Cluster{}, false},
		{"GCP in another project", []string{"gcp-service-account", "orders-x@other-project.iam.gserviceaccount.com"}, testCluster, false},
		{"GCP email pattern", []string{"gcp-service-account", "shared@other-project.iam.gserviceaccount.com"}, testCluster, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := p.Evaluate(Input{Namespace: "orders", Connections: conns(t, tt.kv...), Cluster: tt.cluster})
			if ok := len(vs) == 0; ok != tt.ok {
				t.Errorf("allowed = %v, want %v:%s", ok, tt.ok, messages(vs))
			}
		})
	}
}

func TestIdentityKey(t *testing.T) {
	c := conns(t, "aws-role", "Service-Role/Orders-API", "azure-identity", "Orders", "azure-resource-group", "RG",
		"gcp-service-account", "orders-api"+testProject)
	arn := conns(t, "aws-role", "arn:aws:iam::123456789012:role/Orders-API")
	full := conns(t, "azure-identity", "/subscriptions/ABCDEF00-0000-0000-0000-000000000001/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Xyz")
	tests := []struct {
		cloud string
		c     annotations.Connections
		cl    Cluster
		want  string
	}{
		{"aws", c, Cluster{}, "aws:/orders-api"},
		{"aws", c, Cluster{AWSAccount: "210987654321"}, "aws:210987654321/orders-api"},
		{"aws", arn, Cluster{}, "aws:123456789012/orders-api"},
		{"aws", arn, Cluster{AWSAccount: "210987654321"}, "aws:123456789012/orders-api"},
		{"azure", c, Cluster{AzureSubscription: "Conf-Sub"}, "azure:conf-sub/rg/orders"},
		{"azure", full, Cluster{AzureSubscription: "conf-sub"}, "azure:abcdef00-0000-0000-0000-000000000001/rg/xyz"},
		{"gcp", c, Cluster{}, "gcp:orders-api" + testProject},
		{"gcp", arn, Cluster{}, ""},
		{"other", c, Cluster{}, ""},
	}
	for _, tt := range tests {
		if got := IdentityKey(tt.cloud, tt.c, tt.cl); got != tt.want {
			t.Errorf("IdentityKey(%s, %+v, %+v) = %q, want %q", tt.cloud, tt.c, tt.cl, got, tt.want)
		}
	}
}
