package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

const header = "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\n"

// TestParseErrors checks every message and its position. Each want is the
// start of one line of the error, in document order; most are whole lines.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		wants []string
	}{{
		name: "wrong apiVersion",
		doc:  "apiVersion: keyless.dev/v1\nkind: ConnectionPolicy\nspec:\n  rules: []\n",
		wants: []string{
			`policy.yaml:1:13: apiVersion: found "keyless.dev/v1", expected "keyless.dev/v1alpha1"`,
		},
	}, {
		name: "wrong kind",
		doc:  "apiVersion: keyless.dev/v1alpha1\nkind: Policy\nspec:\n  rules: []\n",
		wants: []string{
			`policy.yaml:2:7: kind: found "Policy", expected "ConnectionPolicy"`,
		},
	}, {
		name: "missing apiVersion and kind",
		doc:  "spec:\n  rules: []\n",
		wants: []string{
			`policy.yaml:1:1: apiVersion: missing; expected apiVersion: keyless.dev/v1alpha1`,
			`policy.yaml:1:1: kind: missing; expected kind: ConnectionPolicy`,
		},
	}, {
		name: "unknown top-level field",
		doc:  header + "metadata:\n  name: x\nspec:\n  rules: []\n",
		wants: []string{
			`policy.yaml:3:1: metadata: unknown field; known fields here: apiVersion, kind, spec`,
		},
	}, {
		name: "unknown rule field with suggestion",
		doc:  rulesDoc("    - name: a\n      awsRole: [x]\n"),
		wants: []string{
			`policy.yaml:6:7: spec.rules[0].awsRole: unknown field; did you mean "awsRoles"?`,
		},
	}, {
		name: "field given twice",
		doc:  rulesDoc("    - name: a\n      mode: warn\n      mode: audit\n"),
		wants: []string{
			`policy.yaml:7:7: spec.rules[0].mode: given twice (first at line 6); keep one`,
		},
	}, {
		name: "bad mode",
		doc:  rulesDoc("    - name: a\n      mode: block\n"),
		wants: []string{
			`policy.yaml:6:13: spec.rules[0].mode: "block" is not a mode; use enforce, warn or audit`,
		},
	}, {
		name: "bad existingViolations",
		doc:  header + "spec:\n  existingViolations: delete\n  rules: []\n",
		wants: []string{
			`policy.yaml:4:23: spec.existingViolations: "delete" is not supported; use report or remove`,
		},
	}, {
		name: "duplicate rule names",
		doc:  rulesDoc("    - name: a\n    - name: b\n    - name: a\n"),
		wants: []string{
			`policy.yaml:7:13: spec.rules[2].name: "a" is already the name of the rule at line 5; rule names must be unique`,
		},
	}, {
		name: "missing and bad rule names",
		doc:  rulesDoc("    - mode: warn\n    - name: Orders_API\n    - name:\n"),
		wants: []string{
			`policy.yaml:5:7: spec.rules[0].name: missing; every rule needs a name`,
			`policy.yaml:6:13: spec.rules[1].name: "Orders_API" is not a valid rule name: a lowercase RFC 1123 label must consist of`,
			`policy.yaml:7:12: spec.rules[2].name: must be a string, found nothing`,
		},
	}, {
		name: "bad AWS patterns",
		doc: rulesDoc(`    - name: a
      awsRoles:
        - "arn:aws:s3:::bucket"
        - "/service-role/x"
        - "aws:iam::1:role/x"
        - "team/"
        - "a//b"
        - "orders!"
`),
		wants: []string{
			`policy.yaml:7:11: spec.rules[0].awsRoles[0]: "arn:aws:s3:::bucket" is not a valid pattern: a role ARN pattern has the form arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`,
			`policy.yaml:8:11: spec.rules[0].awsRoles[1]: "/service-role/x" is not a valid pattern: remove the leading "/": paths are written without it, as in "service-role/x"`,
			`policy.yaml:9:11: spec.rules[0].awsRoles[2]: "aws:iam::1:role/x" is not a valid pattern: role names have no ":", and role ARN patterns start with "arn:"`,
			`policy.yaml:10:11: spec.rules[0].awsRoles[3]: "team/" is not a valid pattern: the role name after the last "/" is missing`,
			`policy.yaml:11:11: spec.rules[0].awsRoles[4]: "a//b" is not a valid pattern: role paths have no empty segment ("//")`,
			`policy.yaml:12:11: spec.rules[0].awsRoles[5]: "orders!" is not a valid pattern: it could never match: role names and paths have only letters, digits and + = , . @ _ -, not "!"`,
		},
	}, {
		name: "bad Azure and GCP patterns",
		doc: rulesDoc(`    - name: a
      azureIdentities: ["x", "a/b/c/d", "/subscriptions/s/resourceGroups/rg", "/x"]
      gcpServiceAccounts: ["orders.x", "Orders-*@p", "a@b@c", "Orders-*"]
`),
		wants: []string{
			`policy.yaml:6:25: spec.rules[0].azureIdentities[0]: "x" is not a valid pattern: use RESOURCEGROUP/NAME (in the cluster's subscription) or SUBSCRIPTION/RESOURCEGROUP/NAME, with non-empty parts, e.g. "*/${namespace}-*"`,
			`policy.yaml:6:30: spec.rules[0].azureIdentities[1]: "a/b/c/d" is not a valid pattern: use RESOURCEGROUP/NAME`,
			`policy.yaml:6:41: spec.rules[0].azureIdentities[2]: "/subscriptions/s/resourceGroups/rg" is not a valid pattern: write SUBSCRIPTION/RESOURCEGROUP/NAME rather than a resource ID`,
			`policy.yaml:6:79: spec.rules[0].azureIdentities[3]: "/x" is not a valid pattern: use RESOURCEGROUP/NAME`,
			`policy.yaml:7:28: spec.rules[0].gcpServiceAccounts[0]: "orders.x" is not a valid pattern: it could never match: account IDs have only lower-case letters, digits and "-", not "."; write an email pattern with "@" for accounts outside the cluster's project`,
			`policy.yaml:7:40: spec.rules[0].gcpServiceAccounts[1]: "Orders-*@p" is not a valid pattern: service account emails and IDs are lower case, so it could never match; write "orders-*@p"`,
			`policy.yaml:7:54: spec.rules[0].gcpServiceAccounts[2]: "a@b@c" is not a valid pattern: it has more than one "@"`,
			`policy.yaml:7:63: spec.rules[0].gcpServiceAccounts[3]: "Orders-*" is not a valid pattern: service account emails and IDs are lower case, so it could never match; write "orders-*"`,
		},
	}, {
		name: "bad pattern characters",
		doc:  rulesDoc("    - name: a\n      awsRoles: [\"\", \"orders-[ab]\", \"orders api\", \"$x\"]\n"),
		wants: []string{
			`policy.yaml:6:18: spec.rules[0].awsRoles[0]: "" is not a valid pattern: it is empty`,
			`policy.yaml:6:22: spec.rules[0].awsRoles[1]: "orders-[ab]" is not a valid pattern: "[" has no meaning in patterns, which know only "*" (any characters) and "?" (one character)`,
			`policy.yaml:6:37: spec.rules[0].awsRoles[2]: "orders api" is not a valid pattern: it contains a blank or control character`,
			`policy.yaml:6:51: spec.rules[0].awsRoles[3]: "$x" is not a valid pattern: a "$" must start ${namespace} or ${serviceAccount}`,
		},
	}, {
		name: "bad templates",
		doc:  rulesDoc("    - name: a\n      gcpServiceAccounts: [\"${ns}-*@*\", \"${namespace-*@*\"]\n      namespaces: {names: [\"${namespace}\"]}\n"),
		wants: []string{
			`policy.yaml:6:28: spec.rules[0].gcpServiceAccounts[0]: "${ns}-*@*" is not a valid pattern: unknown template "${ns}"; use ${namespace} or ${serviceAccount}`,
			`policy.yaml:6:41: spec.rules[0].gcpServiceAccounts[1]: "${namespace-*@*" is not a valid pattern: "${namespace-*@*" has no closing "}"; use ${namespace} or ${serviceAccount}`,
			`policy.yaml:7:28: spec.rules[0].namespaces.names[0]: "${namespace}" is not a valid pattern: templates such as ${namespace} are not allowed here`,
		},
	}, {
		name: "bad namespace names",
		doc:  rulesDoc("    - name: a\n      namespaces:\n        names: []\n    - name: b\n      namespaces:\n        names: [Orders]\n"),
		wants: []string{
			`policy.yaml:7:16: spec.rules[0].namespaces.names: is empty; remove it to select every namespace, or list name patterns`,
			`policy.yaml:10:17: spec.rules[1].namespaces.names[0]: "Orders" is not a valid pattern: namespace names have only lower-case letters, digits and "-", so it could never match`,
		},
	}, {
		name: "bad selectors",
		doc: rulesDoc(`    - name: a
      namespaces:
        selector:
          matchLabels:
            "bad key": x
            team: "not valid!"
          matchExpressions:
            - {key: tier, operator: Inn, values: [x]}
            - {key: tier, operator: In}
            - {operator: Exists}
          matchFields: x
`),
		wants: []string{
			`policy.yaml:9:13: spec.rules[0].namespaces.selector.matchLabels[bad key]: not a valid label selector: key: Invalid value: "bad key": name part must consist of`,
			`policy.yaml:10:13: spec.rules[0].namespaces.selector.matchLabels[team]: not a valid label selector: values[0][team]: Invalid value: "not valid!"`,
			`policy.yaml:12:15: spec.rules[0].namespaces.selector.matchExpressions[0]: not a valid label selector: "Inn" is not a valid label selector operator`,
			`policy.yaml:13:15: spec.rules[0].namespaces.selector.matchExpressions[1]: not a valid label selector: values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty`,
			`policy.yaml:14:15: spec.rules[0].namespaces.selector.matchExpressions[2].key: missing`,
			`policy.yaml:15:11: spec.rules[0].namespaces.selector.matchFields: unknown field; known fields here: matchLabels, matchExpressions`,
		},
	}, {
		name: "bad required label and booleans",
		doc:  rulesDoc("    - name: a\n      requireNamespaceLabel: \"team name=x\"\n      uniqueIdentity: yes\n      requireConnection: 1\n"),
		wants: []string{
			`policy.yaml:6:30: spec.rules[0].requireNamespaceLabel: "team name=x" is not "key" or "key=value" with a valid label key and value: key "team name": name part must consist of`,
			`policy.yaml:7:23: spec.rules[0].uniqueIdentity: "yes" is not a boolean; use true or false`,
			`policy.yaml:8:26: spec.rules[0].requireConnection: "1" is not a boolean; use true or false`,
		},
	}, {
		name: "cloud list without value",
		doc:  rulesDoc("    - name: a\n      awsRoles:\n      azureIdentities: x\n"),
		wants: []string{
			`policy.yaml:6:16: spec.rules[0].awsRoles: has no value; write [] to allow nothing, or remove the key to leave this cloud unconstrained`,
			`policy.yaml:7:24: spec.rules[0].azureIdentities: must be a list, found "x"`,
		},
	}, {
		name: "allowRetain without value",
		doc:  header + "spec:\n  allowRetain:\n  rules: []\n",
		wants: []string{
			`policy.yaml:4:15: spec.allowRetain: has no value; remove it to allow deletion-policy retain nowhere, write {} to allow it everywhere, or select namespaces with names and selector`,
		},
	}, {
		name: "bad allowRetain",
		doc:  header + "spec:\n  allowRetain: {names: [], labels: x}\n  rules: []\n",
		wants: []string{
			`policy.yaml:4:24: spec.allowRetain.names: is empty; remove it to select every namespace, or list name patterns`,
			`policy.yaml:4:28: spec.allowRetain.labels: unknown field; known fields here: names, selector`,
		},
	}, {
		name: "allowRetain not a mapping",
		doc:  header + "spec:\n  allowRetain: true\n  rules: []\n",
		wants: []string{
			`policy.yaml:4:16: spec.allowRetain: must be a mapping (key: value), found "true"`,
		},
	}, {
		name: "no spec",
		doc:  header,
		wants: []string{
			`policy.yaml:1:1: spec: missing; add spec.rules ("rules: []" allows every identity)`,
		},
	}, {
		name: "no rules",
		doc:  header + "spec:\n  existingViolations: remove\n",
		wants: []string{
			`policy.yaml:4:3: spec.rules: missing; list the rules, or write "rules: []" to allow every identity`,
		},
	}, {
		name: "rules without value",
		doc:  header + "spec:\n  rules:\n",
		wants: []string{
			`policy.yaml:4:9: spec.rules: missing; list the rules, or write "rules: []" to allow every identity`,
		},
	}, {
		name: "rule not a mapping",
		doc:  rulesDoc("    - a\n"),
		wants: []string{
			`policy.yaml:5:7: spec.rules[0]: must be a mapping (key: value), found "a"`,
		},
	}, {
		name:  "document not a mapping",
		doc:   "- a\n",
		wants: []string{`policy.yaml:1:1: the document must be a mapping (key: value), found a list`},
	}, {
		name:  "two documents",
		doc:   header + "spec:\n  rules: []\n---\n" + header,
		wants: []string{`policy.yaml:5:1: found a second YAML document; a policy is one document, remove the other or the "---"`},
	}, {
		name:  "YAML syntax, bad indentation",
		doc:   header + "spec:\n  rules:\n    - name: a\n      mode: warn\n     awsRoles: []\n",
		wants: []string{`policy.yaml:7:6: not valid YAML: did not find expected '-' indicator`},
	}, {
		name:  "YAML syntax, unclosed flow list",
		doc:   header + "spec:\n  rules: [\n",
		wants: []string{`policy.yaml:4:10: not valid YAML: did not find expected node content`},
	}, {
		name:  "YAML syntax, tab",
		doc:   header + "spec:\n\trules: []\n",
		wants: []string{`policy.yaml:4:1: not valid YAML: found character that cannot start any token (YAML does not allow tabs for indentation; use spaces)`},
	}, {
		name: "several at once",
		doc: `apiVersion: keyless.dev/v2
kind: ConnectionPolicy
spec:
  rules:
    - name: orders
      mode: block
      awsRoles: ["${namespace}-*", "${nmespace}-*"]
    - name: orders
      namespaces:
        selector:
          matchExpressions: [{key: team, operator: Has}]
      requireNamespaceLabel: "=x"
`,
		wants: []string{
			`policy.yaml:1:13: apiVersion: found "keyless.dev/v2", expected "keyless.dev/v1alpha1"`,
			`policy.yaml:6:13: spec.rules[0].mode: "block" is not a mode; use enforce, warn or audit`,
			`policy.yaml:7:36: spec.rules[0].awsRoles[1]: "${nmespace}-*" is not a valid pattern: unknown template "${nmespace}"; use ${namespace} or ${serviceAccount}`,
			`policy.yaml:8:13: spec.rules[1].name: "orders" is already the name of the rule at line 5; rule names must be unique`,
			`policy.yaml:11:30: spec.rules[1].namespaces.selector.matchExpressions[0]: not a valid label selector: "Has" is not a valid label selector operator`,
			`policy.yaml:12:30: spec.rules[1].requireNamespaceLabel: "=x" is not "key" or "key=value" with a valid label key and value: the label key is empty`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded with %d rules, want errors", len(p.Rules()))
			}
			if p != nil {
				t.Errorf("Parse returned a policy with its error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.wants) {
				t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(tt.wants), err)
			}
			for i, want := range tt.wants {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("error %d:\n got %s\nwant %s", i, lines[i], want)
				}
			}
		})
	}
}

func TestParseNamed(t *testing.T) {
	_, err := ParseNamed("/etc/keyless/prod.yaml", []byte("kind: x\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "/etc/keyless/prod.yaml:1:1: ") {
		t.Errorf("error = %v, want it to start with the file name and position", err)
	}
}

// TestParseErrorsUnwrap checks that the underlying errors stay reachable.
func TestParseErrorsUnwrap(t *testing.T) {
	_, err := Parse([]byte(rulesDoc("    - name: a\n      awsRoles: [\"${x}\"]\n")))
	if !errors.Is(err, errPatternSyntax) {
		t.Errorf("errors.Is(%v, errPatternSyntax) = false", err)
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, doc := range []string{"", " \n\t\n", "# only a comment\n\n# and another\n", "---\n", "--- # empty\n"} {
		t.Run(doc, func(t *testing.T) {
			p, err := Parse([]byte(doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(p, Default()) {
				t.Errorf("Parse(%q) = %+v, want Default()", doc, p.Rules())
			}
		})
	}
}

func TestDefaultYAMLParsesToDefault(t *testing.T) {
	p, err := Parse(DefaultYAML)
	if err != nil {
		t.Fatalf("Parse(DefaultYAML):\n%v", err)
	}
	if !reflect.DeepEqual(p, Default()) {
		t.Errorf("Parse(DefaultYAML) =\n%+v\nwant Default() =\n%+v", p.Rules(), Default().Rules())
	}
}

// TestDeployPolicyIsDefault: the policy that deploy/install.yaml ships (the
// chart's default value) is the default.
func TestDeployPolicyIsDefault(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "deploy", "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var policyYAML *string
	for dec := yaml.NewDecoder(f); policyYAML == nil; {
		var cm struct {
			Kind     string                `yaml:"kind"`
			Metadata struct{ Name string } `yaml:"metadata"`
			Data     map[string]string     `yaml:"data"`
		}
		if err := dec.Decode(&cm); err != nil {
			t.Fatalf("deploy/install.yaml has no ConfigMap keyless-policy: %v", err)
		}
		if p, ok := cm.Data["policy.yaml"]; ok && cm.Kind == "ConfigMap" && cm.Metadata.Name == "keyless-policy" {
			policyYAML = &p
		}
	}
	p, err := ParseNamed("deploy/install.yaml", []byte(*policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, Default()) {
		t.Errorf("the policy of deploy/install.yaml =\n%+v\nwant Default() =\n%+v", p.Rules(), Default().Rules())
	}
}

func TestParseNoRulesAllowsEverything(t *testing.T) {
	p := mustParse(t, header+"spec:\n  rules: []\n")
	if len(p.Rules()) != 0 || p.ExistingViolations() != Report {
		t.Fatalf("rules = %+v, existingViolations = %q", p.Rules(), p.ExistingViolations())
	}
	in := Input{Namespace: "orders", ServiceAccount: "api", Workload: "Deployment/api",
		Connections: conns(t, "aws-role", "arn:aws:iam::123456789012:role/admin", "gcp-service-account", "admin-sa"+testProject)}
	if vs := p.Evaluate(in); len(vs) != 0 {
		t.Errorf("violations:%s", messages(vs))
	}
}

func TestParseDefaultsAndValues(t *testing.T) {
	p := mustParse(t, header+`spec:
  existingViolations: remove
  allowRetain:
    names: ["ops-*"]
  rules:
    - name: a
      mode:
      awsRoles: []
    - name: "2024"
      mode: audit
      namespaces:
        names: ["team-*"]
        selector: {matchLabels: {tier: prod}}
      azureIdentities: ["*/*/${serviceAccount}"]
      uniqueIdentity: true
      requireNamespaceLabel: keyless.dev/enabled=true
      requireConnection: false
`)
	if got := p.ExistingViolations(); got != Remove {
		t.Errorf("ExistingViolations = %q, want remove", got)
	}
	if got := p.AllowRetain(); got == nil || !reflect.DeepEqual(got.Names, []string{"ops-*"}) || got.Selector != nil {
		t.Errorf("AllowRetain = %+v, want names ops-*", got)
	}
	if Default().AllowRetain() != nil || mustParse(t, header+"spec:\n  rules: []\n").AllowRetain() != nil {
		t.Errorf("AllowRetain is set without allowRetain")
	}
	rules := p.Rules()
	if len(rules) != 2 {
		t.Fatalf("got %d rules", len(rules))
	}
	a, b := rules[0], rules[1]
	if a.Mode != Enforce || a.AWSRoles == nil || len(a.AWSRoles) != 0 || a.AzureIdentities != nil {
		t.Errorf("rule a = %+v; want mode enforce, AWS empty but not nil, Azure nil", a)
	}
	if b.Name != "2024" || b.Mode != Audit || !b.UniqueIdentity || b.RequireConnection ||
		b.RequireNamespaceLabel != "keyless.dev/enabled=true" || b.Namespaces.Selector.MatchLabels["tier"] != "prod" ||
		!reflect.DeepEqual(b.Namespaces.Names, []string{"team-*"}) {
		t.Errorf("rule b = %+v", b)
	}
}

func TestParseAliases(t *testing.T) {
	p := mustParse(t, rulesDoc(`    - name: a
      awsRoles: &roles ["${namespace}-*"]
    - name: b
      mode: warn
      awsRoles: *roles
`))
	if got := p.Rules()[1].AWSRoles; !reflect.DeepEqual(got, []string{"${namespace}-*"}) {
		t.Errorf("rule b AWS roles = %q", got)
	}
}

// TestRulesIsACopy checks that callers cannot change a policy.
func TestRulesIsACopy(t *testing.T) {
	p := Default()
	p.Rules()[0].AWSRoles[0] = "*"
	p.Rules()[0].Mode = Audit
	if !reflect.DeepEqual(p, Default()) {
		t.Errorf("changing Rules() changed the policy")
	}
}

func TestNilPolicyIsDefault(t *testing.T) {
	var p *Policy
	if !reflect.DeepEqual(p.Rules(), Default().Rules()) || p.ExistingViolations() != Report {
		t.Errorf("nil policy: rules %+v", p.Rules())
	}
	in := Input{Namespace: "orders", Connections: conns(t, "aws-role", "payments-api")}
	if vs := p.Evaluate(in); len(vs) != 1 {
		t.Errorf("nil policy: violations%s, want one", messages(vs))
	}
}
