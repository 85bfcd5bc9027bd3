package manager

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/admission"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/mutation"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// addWebhook registers the admission handler, which every replica serves
// from its caches.
func (p parts) addWebhook() {
	c := p.config
	p.mgr.GetWebhookServer().Register(admission.Path, &admission.Handler{
		Policy: p.policy.Current,
		Audit:  auditEvents(p.recorder),
		Options: admission.Options{
			Parse:   p.parse,
			Cluster: p.cluster,
			Workload: mutation.WorkloadOptions{
				DenyDefaultServiceAccount: c.DefaultServiceAccount == "deny",
				GKENodeSelector:           c.GKENodeSelector,
			},
			ServiceAccount: mutation.ServiceAccountOptions{AzureTenantID: c.AzureTenantID, Finalizer: annotations.Finalizer, RecordPending: true},
		},
		Lookup: Lookup(p.mgr.GetCache()),
		Log:    p.log.WithName("admission"),
	})
}

// Lookup answers the webhook's questions from c, the manager's cache.
func Lookup(c cache.Cache) admission.Lookup { return cacheLookup{c} }

// cacheLookup answers the webhook's questions from the manager's cache.
type cacheLookup struct{ r cache.Cache }

// ServiceAccountAnnotations reads the cached ServiceAccount without
// copying it: the webhook only reads its annotations.
func (l cacheLookup) ServiceAccountAnnotations(ctx context.Context, namespace, name string) (map[string]string, bool, error) {
	sa := &corev1.ServiceAccount{}
	err := l.r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, sa, client.UnsafeDisableDeepCopy)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading ServiceAccount %s/%s from the cache: %w", namespace, name, err)
	}
	return sa.Annotations, true, nil
}

// Users reads the workload summaries' index directly, as every admission
// asks: a List through the cache would make typed objects of them.
func (l cacheLookup) Users(ctx context.Context, namespace, serviceAccount string) ([]workload.User, error) {
	if wc, ok := l.r.(workloadCache); ok {
		return wc.users(ctx, namespace, serviceAccount)
	}
	return workload.Users(ctx, l.r, namespace, serviceAccount)
}

// NamespaceLabels reads the cached Namespace without copying it: the
// policy only reads its labels.
func (l cacheLookup) NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error) {
	return workload.NamespaceLabels(ctx, l.r, namespace, client.UnsafeDisableDeepCopy)
}

func (l cacheLookup) Bindings(ctx context.Context, identityKey string) ([]string, error) {
	return workload.Bindings(ctx, l.r, identityKey)
}

// Namespaces reads the names from the keys of the namespace informer's
// store: a list would copy every Namespace on every admission.
func (l cacheLookup) Namespaces(ctx context.Context, prefix string) ([]string, error) {
	inf, err := l.r.GetInformer(ctx, &corev1.Namespace{})
	if err != nil {
		return nil, fmt.Errorf("reading namespaces from the cache: %w", err)
	}
	sii, ok := inf.(toolscache.SharedIndexInformer)
	if !ok {
		return workload.Namespaces(ctx, l.r, prefix)
	}
	var out []string
	for _, name := range sii.GetStore().ListKeys() {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out, nil
}
