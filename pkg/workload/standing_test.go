package workload

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/policy"
)

// holders is a cluster of ServiceAccounts ("namespace/name" to annotations)
// and namespaces, for Standing.
type holders struct {
	serviceAccounts map[string]map[string]string
	namespaces      []string
}

func (h holders) ServiceAccountAnnotations(_ context.Context, namespace, name string) (map[string]string, bool, error) {
	a, ok := h.serviceAccounts[namespace+"/"+name]
	return a, ok, nil
}

func (h holders) NamespaceLabels(context.Context, string) (map[string]string, error) { return nil, nil }

func (h holders) Namespaces(_ context.Context, prefix string) ([]string, error) {
	var out []string
	for _, n := range h.namespaces {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, nil
}

// TestAttackRefusedBindingBlocksOwner: namespace "team" bound "team-prod-x"
// before "team-prod" existed; now "team-prod" owns it and "team"'s binding
// is refused (and, with existingViolations: remove, removed). Keeping the
// annotation must not let "team" keep the identity from "team-prod" under
// uniqueIdentity.
func TestAttackRefusedBindingBlocksOwner(t *testing.T) {
	p, err := policy.Parse([]byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n" +
		"    - name: namespace-prefix\n      awsRoles: [\"${namespace}-*\"]\n" +
		"    - name: unique\n      uniqueIdentity: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	cl := policy.Cluster{AWSAccount: "123456789012"}
	role := map[string]string{annotations.KeyAWSRole: "team-prod-x"}
	h := holders{
		serviceAccounts: map[string]map[string]string{"team/app": role, "team-prod/other": role, "team-prod/bad": {annotations.KeyAWSRole: ""}},
		namespaces:      []string{"team", "team-prod"},
	}
	conns, _ := annotations.Parse(role, annotations.Options{})
	key := policy.IdentityKey(policy.CloudAWS, conns, cl)
	got, err := Standing(context.Background(), h, p, annotations.Options{}, cl, key,
		[]string{"team/app", "team-prod/other", "team-prod/gone", "team-prod/bad"})
	if err != nil {
		t.Fatal(err)
	}
	// team/app is refused in its namespace; a holder gone since the index
	// listed it, or whose annotations do not parse, still counts.
	if want := []string{"team-prod/other", "team-prod/gone", "team-prod/bad"}; !slices.Equal(got, want) {
		t.Errorf("standing %q, want %q", got, want)
	}
	// The owner's own evaluation: only a standing binding refuses it.
	in := policy.Input{Namespace: "team-prod", ServiceAccount: "app", Connections: conns, Cluster: cl,
		Namespaces: func(prefix string) []string { got, _ := h.Namespaces(context.Background(), prefix); return got },
		OtherBindings: func(k string) []string {
			got, _ := Standing(context.Background(), h, p, annotations.Options{}, cl, k, []string{"team/app"})
			return got
		}}
	if vs := p.Evaluate(in); len(vs) != 0 {
		t.Errorf("team-prod refused its own identity: %v", vs)
	}
}
