package deploy

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// TestRBACLeastPrivilege reads every rule that install.yaml grants Keyless
// and refuses the ones Keyless has no use for. The e2e test
// TestKeylessPermissions asks a real API server's authorizer the same.
func TestRBACLeastPrivilege(t *testing.T) {
	type grant struct {
		role  string // Kind/name
		scope string // "cluster" or the Role's namespace
		rule  rbacv1.PolicyRule
	}
	var grants []grant
	for _, u := range documents(t, "install.yaml", Install) {
		switch u.GetKind() {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			decode(t, u, &r)
			for _, rule := range r.Rules {
				grants = append(grants, grant{"ClusterRole/" + r.Name, "cluster", rule})
			}
		case "Role":
			var r rbacv1.Role
			decode(t, u, &r)
			for _, rule := range r.Rules {
				grants = append(grants, grant{"Role/" + r.Name, r.Namespace, rule})
			}
		}
	}

	has := func(g grant, group, resource, verb string) bool {
		return slices.Contains(g.rule.APIGroups, group) && slices.Contains(g.rule.Resources, resource) && slices.Contains(g.rule.Verbs, verb)
	}
	for _, g := range grants {
		for _, list := range [][]string{g.rule.APIGroups, g.rule.Resources, g.rule.Verbs} {
			if slices.Contains(list, "*") {
				t.Errorf("%s: wildcard in %+v", g.role, g.rule)
			}
		}
		if len(g.rule.NonResourceURLs) > 0 {
			t.Errorf("%s: non-resource URLs %v", g.role, g.rule.NonResourceURLs)
		}
		for _, r := range g.rule.Resources {
			if slices.Contains([]string{"secrets", "pods", "pods/exec", "serviceaccounts/token", "clusterroles",
				"clusterrolebindings", "roles", "rolebindings"}, r) {
				t.Errorf("%s grants %v on %s", g.role, g.rule.Verbs, r)
			}
		}
		for _, v := range []string{"patch", "update"} {
			if has(g, "batch", "jobs", v) {
				t.Errorf("%s grants %s on Jobs, whose pod template Keyless never restarts", g.role, v)
			}
		}
		for _, v := range []string{"delete", "deletecollection", "escalate", "bind", "impersonate"} {
			if slices.Contains(g.rule.Verbs, v) && (g.scope != "keyless-system" || !slices.Equal(g.rule.Resources, []string{"configmaps"})) {
				t.Errorf("%s (%s) grants %s on %v; only the records in keyless-system may be deleted", g.role, g.scope, v, g.rule.Resources)
			}
		}
		if has(g, "", "configmaps", "get") && g.scope != "keyless-system" {
			t.Errorf("%s (%s) grants ConfigMaps outside keyless-system", g.role, g.scope)
		}
	}

	// Authenticated metrics need both reviews, which are cluster-scoped: a
	// Role could not grant them.
	for _, want := range [][2]string{{"authentication.k8s.io", "tokenreviews"}, {"authorization.k8s.io", "subjectaccessreviews"}} {
		if !slices.ContainsFunc(grants, func(g grant) bool { return g.scope == "cluster" && has(g, want[0], want[1], "create") }) {
			t.Errorf("no ClusterRole grants create on %s.%s", want[1], want[0])
		}
	}
	if !slices.ContainsFunc(grants, func(g grant) bool { return g.scope == "keyless-system" && has(g, "", "configmaps", "create") }) {
		t.Error("no Role in keyless-system grants create on ConfigMaps (the records)")
	}
}
