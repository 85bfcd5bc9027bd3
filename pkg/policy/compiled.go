package policy

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// compiledRule is a rule made ready to evaluate when its policy is made:
// patterns compiled, the label selector converted.
type compiledRule struct {
	namespaces compiledSelector
	aws        []awsPattern
	azure      []azurePattern
	gcp        []gcpPattern
}

// compiledSelector is a NamespaceSelector made ready to evaluate.
type compiledSelector struct {
	// names is nil when the selector has no names: any name.
	names [][]atom
	// selector is nil without a selector, and also if it failed to convert
	// (Parse has checked it): the selector then selects rather than skips.
	selector labels.Selector
}

// newPolicy makes a Policy of a normalized spec.
func newPolicy(spec Spec) *Policy {
	p := &Policy{spec: spec, compiled: make([]compiledRule, len(spec.Rules))}
	for i := range spec.Rules {
		p.compiled[i] = compileRule(&spec.Rules[i])
	}
	if spec.AllowRetain != nil {
		s := compileSelector(spec.AllowRetain)
		p.retain = &s
	}
	return p
}

func compileRule(r *Rule) compiledRule {
	c := compiledRule{namespaces: compileSelector(&r.Namespaces)}
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

func compileSelector(s *NamespaceSelector) compiledSelector {
	var c compiledSelector
	if s.Names != nil {
		c.names = make([][]atom, 0, len(s.Names))
	}
	for _, pat := range s.Names {
		c.names = append(c.names, compile(pat))
	}
	if s.Selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil {
			c.selector = sel
		}
	}
	return c
}

// selects: one of the name patterns and the label selector, each when
// given, must match. Name patterns take templates as literal text.
func (c *compiledSelector) selects(ns string, nsLabels map[string]string) bool {
	if c.names != nil && !anyAtoms(c.names, ns) {
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
