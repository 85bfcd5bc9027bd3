package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// CloudReconciler runs one cloud's side of the connected ServiceAccounts in
// a queue and workers of its own. With one queue for all clouds, the
// ServiceAccounts of a cloud whose request budget is spent would hold the
// workers and leave the other clouds' budgets unused; with one per cloud,
// each cloud's quota alone sets its pace.
type CloudReconciler struct {
	Client client.Client
	Cloud  cloud.Name
	// Syncer handles Cloud only (a CloudSyncer with Clouds set to it).
	Syncer Syncer
	// Workers is the number of concurrent reconciles (0: 1).
	Workers int
	// Resync, when set, queues the ServiceAccounts sent on it.
	Resync <-chan event.GenericEvent
}

// SetupWithManager registers the controller, named cloud-<cloud>.
func (r *CloudReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("cloud-"+string(r.Cloud)).
		For(&corev1.ServiceAccount{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return concerns(o, r.Cloud)
		}), ignoreOwnWrites)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Workers), RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
			250*time.Millisecond, time.Minute)})
	if r.Resync != nil {
		b = b.WatchesRawSource(source.Channel(r.Resync, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

// Reconcile syncs one ServiceAccount's connection to r.Cloud.
func (r *CloudReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	sa := &corev1.ServiceAccount{}
	if err := r.Client.Get(ctx, req.NamespacedName, sa); apierrors.IsNotFound(err) {
		return reconcile.Result{}, nil
	} else if err != nil {
		return reconcile.Result{}, fmt.Errorf("reading ServiceAccount %s: %w", req, err)
	}
	if !concerns(sa, r.Cloud) {
		return reconcile.Result{}, nil
	}
	return r.Syncer.Sync(ctx, sa)
}

// connectionKeys are the annotations that name each cloud's identity.
var connectionKeys = map[cloud.Name]string{
	cloud.AWS: annotations.KeyAWSRole, cloud.Azure: annotations.KeyAzureIdentity, cloud.GCP: annotations.KeyGCPServiceAccount,
}

// concerns reports whether o has anything for cloud c to do: a connection,
// a status, or Keyless's finalizer while it is being deleted.
func concerns(o client.Object, c cloud.Name) bool {
	a := o.GetAnnotations()
	if _, ok := a[connectionKeys[c]]; ok {
		return true
	}
	if _, ok := a[statusKeys[c]]; ok {
		return true
	}
	return !o.GetDeletionTimestamp().IsZero() && slices.Contains(o.GetFinalizers(), annotations.Finalizer)
}
