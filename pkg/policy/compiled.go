package policy

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// compiledRule is a rule made ready to evaluate when its policy is made:
// patterns compiled, the label selector converted.
type compiledRule struct {
	names [][]atom
	// selector is nil without a selector, and also if it failed to convert
	// (Parse has checked it): the rule then applies rather than be skipped.
	selector labels.Selector
	aws      []awsPattern
	azure    []azurePattern
	gcp      []gcpPattern
}

// newPolicy makes a Policy of a normalized spec.
func newPolicy(spec Spec) *Policy {
	p := &Policy{spec: spec, compiled: make([]compiledRule, len(spec.Rules))}
	for i := range spec.Rules {
		p.compiled[i] = compileRule(&spec.Rules[i])
	}
	return p
}

func compileRule(r *Rule) compiledRule {
	var c compiledRule
	for _, pat := range r.Namespaces.Names {
		c.names = append(c.names, compile(pat))
	}
	if r.Namespaces.Selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(r.Namespaces.Selector); err == nil {
			c.selector = sel
		}
	}
	for _, pat := range r.AWSRoles {
		c.aws = append(c.aws, compileAWS(pat))
	}
	for _, pat := range r.AzureIdentities {
		c.azure = append(c.azure, compileAzure(pat))
	}
	for _, pat := range r.GCPServiceAccounts {
		c.gcp = append(c.gcp, compileGCP(pat))
	}
	return c
}

// selects: one of the name patterns and the label selector, each when
// given, must match. Name patterns take templates as literal text.
func (c *compiledRule) selects(r *Rule, ns string, nsLabels map[string]string) bool {
	if r.Namespaces.Names != nil && !anyAtoms(c.names, ns) {
		return false
	}
	return c.selector == nil || c.selector.Matches(labels.Set(nsLabels))
}

func anyAtoms(pats [][]atom, s string) bool {
	for _, p := range pats {
		if matchAtoms(p, s, nil, false) {
			return true
		}
	}
	return false
}
