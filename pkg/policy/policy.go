package policy

import "slices"

// Policy is a parsed, validated ConnectionPolicy. Make one with Parse or
// Default; it is immutable, so one value may serve concurrent evaluations.
//
// A nil *Policy behaves as Default(), so that a missing policy never allows
// everything by accident.
type Policy struct {
	// spec is normalized: every rule has its Mode, ExistingViolations is set.
	spec Spec
	// compiled holds spec.Rules made ready to evaluate, in the same order.
	compiled []compiledRule
	// retain is spec.AllowRetain made ready; nil allows retain nowhere.
	retain *compiledSelector
}

// RetainAllowed reports whether connections in the namespace may use
// keyless.dev/deletion-policy: retain (Spec.AllowRetain). The controller
// asks before it leaves a cloud object behind.
func (p *Policy) RetainAllowed(namespace string, labels map[string]string) bool {
	if p == nil {
		p = defaultPolicy()
	}
	return p.retain != nil && p.retain.selects(namespace, labels)
}

// AllowRetain returns a copy of Spec.AllowRetain; nil allows retain nowhere.
func (p *Policy) AllowRetain() *NamespaceSelector {
	if p == nil || p.spec.AllowRetain == nil {
		return nil
	}
	s := p.spec.AllowRetain.clone()
	return &s
}

// Rules returns a copy of the rules, in evaluation order, with defaults
// filled in (Mode is never empty).
func (p *Policy) Rules() []Rule {
	if p == nil {
		return Default().Rules()
	}
	out := make([]Rule, len(p.spec.Rules))
	for i, r := range p.spec.Rules {
		out[i] = r.clone()
	}
	return out
}

// ExistingViolations says what the controller does with bindings that the
// policy no longer allows: Report (the default) or Remove.
func (p *Policy) ExistingViolations() ExistingViolations {
	if p == nil || p.spec.ExistingViolations == "" {
		return Report
	}
	return p.spec.ExistingViolations
}

// clone copies s deeply.
func (s NamespaceSelector) clone() NamespaceSelector {
	s.Names = slices.Clone(s.Names)
	s.Selector = s.Selector.DeepCopy()
	return s
}

// clone copies r deeply, so that callers of Rules cannot change the policy.
func (r Rule) clone() Rule {
	r.Namespaces = r.Namespaces.clone()
	r.AWSRoles = slices.Clone(r.AWSRoles)
	r.AzureIdentities = slices.Clone(r.AzureIdentities)
	r.GCPServiceAccounts = slices.Clone(r.GCPServiceAccounts)
	return r
}
