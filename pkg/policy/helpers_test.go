package policy

import (
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Connection values used across the tests.
const (
	testAccount = "123456789012"
	testSub     = "00000000-0000-0000-0000-000000000001"
	testProject = "@my-project.iam.gserviceaccount.com"
)

// testCluster is the cluster of those values.
var testCluster = Cluster{AWSAccount: testAccount, AzureSubscription: testSub, GCPProject: "my-project"}

// conns parses annotations as the webhook would, with "default-rg" as the
// Azure default resource group. Keys are given without the prefix.
func conns(t testing.TB, kv ...string) annotations.Connections {
	t.Helper()
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[annotations.Prefix+kv[i]] = kv[i+1]
	}
	c, errs := annotations.Parse(m, annotations.Options{AzureDefaultResourceGroup: "default-rg"})
	if len(errs) > 0 {
		t.Fatalf("annotations %v: %v", kv, errs.ToAggregate())
	}
	return c
}

// mustParse parses a test document, failing the test on error.
func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return p
}

// rulesDoc wraps rules (YAML list items, indented by 4) in a document.
func rulesDoc(rules string) string {
	return "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n" + rules
}

// messages lists the violations' messages, for failure output.
func messages(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("\n  " + v.String())
	}
	return b.String()
}

// match, matchAWS, matchAzure and matchGCP compile a pattern and match it,
// as Evaluate does with the patterns it compiled beforehand.
func match(pat, s string, v *vars, fold bool) bool { return matchAtoms(compile(pat), s, v, fold) }

func matchAWS(pat string, r *annotations.AWSRole, v *vars) bool {
	p := compileAWS(pat)
	return p.match(r, r.String(), r.Account == "" || r.Account == testAccount, v)
}

func matchAzure(pat, sub, rg, name string, v *vars) bool {
	p := compileAzure(pat)
	a := azureValue{sub: foldCase(sub), rg: foldCase(rg), name: foldCase(name), inCluster: sub == "" || sub == testSub}
	return p.match(&a, foldVars(v))
}

func matchGCP(pat, email string, v *vars) bool {
	p := compileGCP(pat)
	id, project := gcpParts(email)
	return p.match(email, id, project == testCluster.GCPProject, v)
}
