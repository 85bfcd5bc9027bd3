package gcp

import (
	"slices"

	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// member is the Workload Identity member of a ServiceAccount in pool.
func member(pool string, s cloud.Subject) string {
	return "serviceAccount:" + pool + "[" + s.Namespace + "/" + s.Name + "]"
}

// resourceName names a service account's policy; "-" lets IAM find the project.
func resourceName(email string) string { return "projects/-/serviceAccounts/" + email }

// isGrant reports whether b is an unconditional binding of Role: the only
// kind Keyless makes, and the only kind that grants the role without limits.
func isGrant(b *iam.Binding) bool { return b != nil && b.Role == Role && b.Condition == nil }

// hasMember reports whether m is granted Role unconditionally.
func hasMember(p *iam.Policy, m string) bool {
	return slices.ContainsFunc(p.Bindings, func(b *iam.Binding) bool { return isGrant(b) && slices.Contains(b.Members, m) })
}

// addMember adds m to the unconditional binding of Role, made if missing.
func addMember(p *iam.Policy, m string) {
	if i := slices.IndexFunc(p.Bindings, isGrant); i >= 0 {
		p.Bindings[i].Members = append(p.Bindings[i].Members, m)
		return
	}
	p.Bindings = append(p.Bindings, &iam.Binding{Role: Role, Members: []string{m}})
}

// removeMember takes m out of the unconditional bindings of Role, dropping
// a binding it leaves empty; it reports whether m was there.
func removeMember(p *iam.Policy, m string) bool {
	found := false
	for _, b := range p.Bindings {
		if isGrant(b) && slices.Contains(b.Members, m) {
			b.Members = slices.DeleteFunc(b.Members, func(x string) bool { return x == m })
			found = true
		}
	}
	p.Bindings = slices.DeleteFunc(p.Bindings, func(b *iam.Binding) bool { return isGrant(b) && len(b.Members) == 0 })
	return found
}

// forWrite readies a read policy to be sent back: with its etag, and at
// version 3 if any binding is conditional, as IAM requires.
func forWrite(p *iam.Policy) *iam.Policy {
	p.ServerResponse = googleapi.ServerResponse{}
	switch {
	case slices.ContainsFunc(p.Bindings, func(b *iam.Binding) bool { return b.Condition != nil }):
		p.Version = 3
	case p.Version == 0:
		p.Version = 1
	}
	return p
}
