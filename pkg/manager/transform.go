package manager

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/controller"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// CacheOptions are the options of the manager's cache (see NewCache): the
// record ConfigMaps of namespace ns, and for the rest cacheOptions.
func CacheOptions(ns string) cache.Options {
	return withRecords(cacheOptions(), ns)
}

// cacheOptions keep in the informer caches only what Keyless reads. The
// caches cover every ServiceAccount and workload of the cluster on every
// replica, so whatever they keep that a tenant can write (annotations,
// labels) lets one tenant grow every replica's memory; they keep only the
// annotations Keyless reads, each of bounded length.
//
// Keyless writes only patches (JSON merge patches of annotation keys, or
// MergeFrom patches whose diff covers just the fields it changed), never an
// Update of a cached object, so a cached object may drop everything else.
// Lists that a merge patch replaces whole (finalizers, ownerReferences) are
// kept whole. Workloads are kept as workload.Summary values, which
// workloadCache turns back into typed objects for its readers. Anything
// else cached loses its managedFields only.
func cacheOptions() cache.Options {
	byObject := map[client.Object]cache.ByObject{
		&corev1.ServiceAccount{}: {Transform: slimServiceAccount},
		&corev1.Namespace{}:      {Transform: slimNamespace},
	}
	for _, k := range workload.Kinds {
		byObject[k.New()] = cache.ByObject{Transform: slimWorkload}
	}
	return cache.Options{DefaultTransform: cache.TransformStripManagedFields(), ByObject: byObject}
}

// Longest annotation values the caches keep. No valid identity, setting or
// list comes near maxValue (an IAM role ARN, the longest, is under 700
// bytes); a status written by Keyless is a few hundred bytes, a cloud's
// error message included.
const (
	maxValue       = 1 << 10
	maxStatusValue = 8 << 10
)

// tooLong stands in for a value over its limit: the key stays, so Keyless
// still sees that it was written, and the value matches no valid one.
const tooLong = "(value longer than Keyless keeps)"

// cached returns what the caches keep of the annotation k=v of a
// ServiceAccount or workload, and whether they keep it at all: keys under
// keyless.dev/ (the webhook, which fails closed, validates the ones users
// write) and the clouds' ServiceAccount annotations that Keyless compares
// or sets. Everything else under the clouds' prefixes is never read, and a
// ServiceAccount without keyless.dev/ keys never reaches the webhook.
func cached(k, v string) (string, bool) {
	limit := maxValue
	switch k {
	case annotations.AzureClientIDAnnotation, annotations.AzureTenantIDAnnotation, annotations.GKEServiceAccount:
	default:
		if !strings.HasPrefix(k, annotations.Prefix) {
			return "", false
		}
		if annotations.IsStatusKey(k) {
			limit = maxStatusValue
		}
	}
	if len(v) > limit {
		return tooLong, true
	}
	return v, true
}

// keepAnnotations returns the annotations that keep says to keep, or nil.
func keepAnnotations(in map[string]string, keep func(k, v string) (string, bool)) map[string]string {
	var out map[string]string
	for k, v := range in {
		if v, ok := keep(k, v); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// slimMeta keeps the object metadata Keyless reads, and what events and
// patches need (uid, resourceVersion). Labels of ServiceAccounts and
// workloads are never read.
func slimMeta(m metav1.Object) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(),
		Generation: m.GetGeneration(), CreationTimestamp: m.GetCreationTimestamp(),
		DeletionTimestamp: m.GetDeletionTimestamp(), Annotations: keepAnnotations(m.GetAnnotations(), cached),
		OwnerReferences: m.GetOwnerReferences(), Finalizers: m.GetFinalizers(),
	}
}

// slimWorkload replaces a typed workload by its workload.Summary: its
// metadata and the ServiceAccount of its pod template. The pod template's
// restart stamp is read from admission requests only, never from the
// cache. Other objects pass unchanged.
func slimWorkload(in any) (any, error) {
	switch o := in.(type) {
	case *workload.Summary:
		return o, nil
	case client.Object:
		if s := workload.Summarize(o, slimMeta(o)); s != nil {
			return s, nil
		}
	}
	return in, nil
}

// slimServiceAccount keeps a ServiceAccount's metadata (its secrets and
// image pull secrets are never read), and of its labels only the one that
// marks the ServiceAccounts Keyless created, whose users it makes owners.
func slimServiceAccount(in any) (any, error) {
	if o, ok := in.(*corev1.ServiceAccount); ok {
		sa := &corev1.ServiceAccount{TypeMeta: o.TypeMeta, ObjectMeta: slimMeta(o)}
		if o.Labels[controller.ManagedByLabel] == controller.ManagedByKeyless {
			sa.Labels = map[string]string{controller.ManagedByLabel: controller.ManagedByKeyless}
		}
		return sa, nil
	}
	return in, nil
}

// slimNamespace keeps a namespace's name, labels (policy rules select
// namespaces by label) and what identifies it.
func slimNamespace(in any) (any, error) {
	if o, ok := in.(*corev1.Namespace); ok {
		return &corev1.Namespace{TypeMeta: o.TypeMeta, ObjectMeta: metav1.ObjectMeta{
			Name: o.Name, UID: o.UID, ResourceVersion: o.ResourceVersion,
			DeletionTimestamp: o.DeletionTimestamp, Labels: o.Labels,
		}}, nil
	}
	return in, nil
}
