package policy

import (
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// FuzzParse checks that Parse never panics, that it fails with messages or
// succeeds with a policy that evaluates without panicking.
func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML)
	f.Add([]byte(""))
	f.Add([]byte(header + "spec:\n  rules: []\n"))
	f.Add([]byte(rulesDoc(`    - name: a
      mode: warn
      namespaces:
        names: ["team-*"]
        selector: {matchLabels: {tier: prod}, matchExpressions: [{key: team, operator: In, values: [a]}]}
      awsRoles: &r ["${namespace}-${serviceAccount}", "arn:aws:iam::*:role/*/x"]
      azureIdentities: ["*/rg/${namespace}"]
      gcpServiceAccounts: ["*@*"]
      uniqueIdentity: true
      requireNamespaceLabel: a/b=c
      requireConnection: true
    - name: b
      awsRoles: *r
`)))
	f.Add([]byte("a: [1\n"))
	f.Add([]byte("x: 1\n---\ny: 2\n"))

	others := func(string) []string { return []string{"other/sa"} }
	inputs := []Input{
		{Namespace: "orders", ServiceAccount: "api", Workload: "Deployment/api",
			NamespaceLabels: map[string]string{"tier": "prod", "a/b": "c"}, OtherBindings: others,
			Cluster:    Cluster{AWSAccount: "123456789012", AzureSubscription: "sub", GCPProject: "p"},
			Namespaces: func(string) []string { return []string{"orders", "orders-eu", "orders-"} },
			Connections: annotations.Connections{
				AWS:   &annotations.AWSRole{Partition: "aws", Account: "123456789012", Path: "/team/", Name: "orders-api"},
				Azure: &annotations.AzureIdentity{ResourceGroup: "rg", Name: "orders"},
				GCP:   &annotations.GCPServiceAccount{Email: "orders-api@p.iam.gserviceaccount.com"},
				Settings: annotations.Settings{
					AWSTargetRole: &annotations.AWSRole{Partition: "aws", Account: "210987654321", Path: "/", Name: "x"}},
			}},
		{Namespace: "team-*", ServiceAccount: "?", Workload: "Job/x"},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(raw)
		if err != nil {
			if p != nil {
				t.Errorf("policy with error %v", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, DefaultFileName+":") {
					t.Errorf("message without position: %q", line)
				}
			}
			return
		}
		for _, in := range inputs {
			for _, v := range p.Evaluate(in) {
				if v.Rule == "" || v.Message == "" {
					t.Errorf("bad violation %+v", v)
				}
			}
		}
	})
}

// FuzzMatch checks the matcher: no panic; a pattern without wildcards
// matches only itself; "*" matches everything; every pattern matches its
// own text; templates act as their values written out.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"*", ""}, {"a*b?c", "axxbyc"}, {"${namespace}-*", "orders-x"}, {"?", "é"}, {"*\xff", "\xff\xff"}} {
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, pat, s string, fold bool) {
		got := match(pat, s, nil, fold)
		if !strings.ContainsAny(pat, "*?") {
			want := pat == s
			if fold {
				want = lower(pat) == lower(s)
			}
			if got != want {
				t.Errorf("match(%q, %q, fold %v) = %v for a pattern without wildcards", pat, s, fold, got)
			}
		}
		if !match("*", s, nil, fold) {
			t.Errorf("\"*\" did not match %q", s)
		}
		if !match(pat, pat, nil, false) {
			// "*" and "?" can match the characters "*" and "?".
			t.Errorf("%q did not match its own text", pat)
		}
		// Templates behave as their values written out, when the values
		// hold no wildcard.
		v := &vars{namespace: "orders", serviceAccount: "${serviceAccount}"}
		if match(pat, s, v, fold) != match(strings.ReplaceAll(pat, "${namespace}", "orders"), s, nil, fold) {
			t.Errorf("match(%q, %q) differs with ${namespace} written out", pat, s)
		}
	})
}
