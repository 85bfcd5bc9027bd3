package workload

import (
	"context"
	"fmt"
	"slices"
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
func NamespaceLabels(ctx context.Context, r client.Reader, namespace string) (map[string]string, bool, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
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

// WithPrefix returns the run of sorted (ascending) that starts with
// prefix, found by binary search; it shares sorted's array, with no room
// to append into it.
func WithPrefix(sorted []string, prefix string) []string {
	i, _ := slices.BinarySearch(sorted, prefix)
	j := i
	for j < len(sorted) && strings.HasPrefix(sorted[j], prefix) {
		j++
	}
	return sorted[i:j:j]
}

// Holders reads what Standing needs to know of the ServiceAccounts that
// bind an identity; admission.Lookup is one.
type Holders interface {
	ServiceAccountAnnotations(ctx context.Context, namespace, name string) (map[string]string, bool, error)
	NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error)
	Namespaces(ctx context.Context, prefix string) ([]string, error)
}

// Standing keeps of holders (the "namespace/name" of the ServiceAccounts
// that Bindings found for identityKey) those whose binding p lets stand in
// their own namespace (policy.Binds): one the policy refuses there must not
// keep the identity from the namespace that owns it. A holder r cannot
// read counts.
func Standing(ctx context.Context, r Holders, p *policy.Policy, opts annotations.Options, cl policy.Cluster,
	identityKey string, holders []string) ([]string, error) {
	var out []string
	for _, h := range holders {
		ns, name, _ := strings.Cut(h, "/")
		annots, found, err := r.ServiceAccountAnnotations(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		conns, errs := annotations.Parse(annots, opts)
		if !found || len(errs) > 0 {
			// Nothing to judge (gone since it was listed, or a reader that
			// knows only who binds what): it counts, as every binding did.
			out = append(out, h)
			continue
		}
		labels, err := r.NamespaceLabels(ctx, ns)
		if err != nil {
			return nil, err
		}
		var lookupErr error
		in := policy.Input{Namespace: ns, NamespaceLabels: labels, ServiceAccount: name, Connections: conns, Cluster: cl,
			Namespaces: func(prefix string) []string {
				got, err := r.Namespaces(ctx, prefix)
				if err != nil {
					lookupErr = err
				}
				return got
			}}
		binds := p.Binds(in, identityKey)
		if lookupErr != nil {
			return nil, lookupErr
		}
		if binds {
			out = append(out, h)
		}
	}
	return out, nil
}
