// Package controller reconciles connected ServiceAccounts: it copies the
// connection annotations of the workloads that use a ServiceAccount onto it
// (creating it, owned by the workloads, when missing), and makes each
// cloud match the ServiceAccount's connection to it (CloudSyncer).
//
// ServiceAccountReconciler's queue is fed by watches on ServiceAccounts and
// on every workload kind; each cloud has a CloudReconciler with a queue and
// workers of its own, fed by the ServiceAccounts that concern it. The
// controllers run on the elected leader only.
package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Syncer makes the cloud side match one ServiceAccount after its connection
// annotations are in place. A nil Syncer reconciles the Kubernetes side only.
type Syncer interface {
	Sync(ctx context.Context, sa *corev1.ServiceAccount) (reconcile.Result, error)
}
