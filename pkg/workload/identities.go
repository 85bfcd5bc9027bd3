package workload

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/policy"
)

// IndexIdentity is the cache field index of ServiceAccounts by the identity
// keys (policy.IdentityKey) of their connections, for the policy's
// one-identity-one-ServiceAccount rule.
const IndexIdentity = "keyless.dev/identity"

// AddIdentityIndex registers IndexIdentity on ServiceAccounts; cl resolves
// identities given by name to the cluster's account and subscription.
func AddIdentityIndex(ctx context.Context, indexer client.FieldIndexer, opts annotations.Options, cl policy.Cluster) error {
	err := indexer.IndexField(ctx, &corev1.ServiceAccount{}, IndexIdentity, func(o client.Object) []string {
		conns, errs := annotations.Parse(o.GetAnnotations(), opts)
		if len(errs) > 0 {
			return nil
		}
		return policy.IdentityKeys(conns, cl)
	})
	if err != nil {
		return fmt.Errorf("indexing ServiceAccounts by identity: %w", err)
	}
	return nil
}

// Bindings lists the ServiceAccounts ("namespace/name") that bind identityKey.
func Bindings(ctx context.Context, r client.Reader, identityKey string) ([]string, error) {
	list := &corev1.ServiceAccountList{}
	if err := r.List(ctx, list, client.MatchingFields{IndexIdentity: identityKey}); err != nil {
		return nil, fmt.Errorf("listing ServiceAccounts bound to %s: %w", identityKey, err)
	}
	out := make([]string, 0, len(list.Items))
	for _, sa := range list.Items {
		out = append(out, sa.Namespace+"/"+sa.Name)
	}
	return out, nil
}

// NamespaceLabels returns the labels of a namespace, and false when it is
// missing.
//
// With client.UnsafeDisableDeepCopy the map is the cache's own: read it,
// never change it.
func NamespaceLabels(ctx context.Context, r client.Reader, namespace string, opts ...client.GetOption) (map[string]string, bool, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: namespace}, ns, opts...); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	return ns.Labels, true, nil
}

// Namespaces lists the names of the namespaces that start with prefix, for
// the policy's namespace ownership (policy.Input.Namespaces). It reads
// without copying: the names are all it keeps.
func Namespaces(ctx context.Context, r client.Reader, prefix string) ([]string, error) {
	list := &corev1.NamespaceList{}
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var out []string
	for i := range list.Items {
		if name := list.Items[i].Name; strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out, nil
}
