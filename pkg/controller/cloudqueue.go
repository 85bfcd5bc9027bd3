package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
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
	// Timeout bounds one reconcile (0: none), so that a cloud that never
	// answers cannot hold a worker.
	Timeout time.Duration
	// Sources, when set, learns when the controller's watches have synced.
	Sources *Sources
}

// SetupWithManager registers the controller, named cloud-<cloud>.
func (r *CloudReconciler) SetupWithManager(mgr ctrl.Manager) error {
	c := mgr.GetCache()
	b := ctrl.NewControllerManagedBy(mgr).
		Named("cloud-" + string(r.Cloud)).
		WatchesRawSource(r.Sources.kind(c, &corev1.ServiceAccount{}, &handler.EnqueueRequestForObject{},
			concernsCloud(r.Cloud), ignoreOwnWrites)).
		// A namespace's labels select policy rules, and a new namespace
		// takes the identities named after it back from the namespaces
		// whose names start like it: re-check at once, not at the resync.
		WatchesRawSource(r.Sources.kind(c, &corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.namespaceChanged),
			namespacePredicate)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Workers), RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
			250*time.Millisecond, time.Minute), ReconciliationTimeout: r.Timeout})
	if r.Resync != nil {
		b = b.WatchesRawSource(source.Channel(r.Resync, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

// Reconcile syncs one ServiceAccount's connection to r.Cloud.
func (r *CloudReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	sa := &corev1.ServiceAccount{}
	if err := r.Client.Get(ctx, req.NamespacedName, sa); apierrors.IsNotFound(err) {
		setConnectionState(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: req.Name}}, r.Cloud, nil)
		return r.gone(ctx, req.NamespacedName, "")
	} else if err != nil {
		return reconcile.Result{}, fmt.Errorf("reading ServiceAccount %s: %w", req, err)
	}
	if !concerns(sa, r.Cloud) {
		// Queued by the sweep: a record names this ServiceAccount, which
		// may be a new one of the same name that connects nothing.
		return r.gone(ctx, req.NamespacedName, sa.UID)
	}
	return r.Syncer.Sync(ctx, sa)
}

// namespacePredicate passes created namespaces and label changes.
var namespacePredicate = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return true },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld != nil && e.ObjectNew != nil && !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
	},
}

// namespaceChanged queues the ServiceAccounts of r.Cloud in the namespace,
// and in every namespace whose name starts its name (a new namespace
// "team-prod" owns identities "team-prod-*" that "team" may hold).
func (r *CloudReconciler) namespaceChanged(ctx context.Context, o client.Object) []reconcile.Request {
	nss := &corev1.NamespaceList{}
	if err := r.Client.List(ctx, nss); err != nil {
		log.FromContext(ctx).Error(err, "listing namespaces after a namespace change")
		return nil
	}
	var out []reconcile.Request
	for _, ns := range nss.Items {
		if !strings.HasPrefix(o.GetName(), ns.Name) {
			continue
		}
		sas := &corev1.ServiceAccountList{}
		if err := r.Client.List(ctx, sas, client.InNamespace(ns.Name)); err != nil {
			log.FromContext(ctx).Error(err, "listing ServiceAccounts after a namespace change", "namespace", ns.Name)
			continue
		}
		for i := range sas.Items {
			if concerns(&sas.Items[i], r.Cloud) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&sas.Items[i])})
			}
		}
	}
	return out
}

// goneHandler ends the recorded objects of a ServiceAccount that is gone or
// connects nothing (CloudSyncer.Gone).
type goneHandler interface {
	Gone(ctx context.Context, key types.NamespacedName, uid types.UID) (reconcile.Result, error)
}

func (r *CloudReconciler) gone(ctx context.Context, key types.NamespacedName, uid types.UID) (reconcile.Result, error) {
	if g, ok := r.Syncer.(goneHandler); ok {
		return g.Gone(ctx, key, uid)
	}
	return reconcile.Result{}, nil
}

// concernsCloud passes the events of ServiceAccounts that concern cloud
// c; an update passes when either version does, so that a connection and
// its status removed in one write still reach the reconcile that removes
// the object, at once rather than at the next resync.
func concernsCloud(c cloud.Name) predicate.Funcs {
	p := predicate.NewPredicateFuncs(func(o client.Object) bool { return concerns(o, c) })
	p.UpdateFunc = func(e event.UpdateEvent) bool {
		return e.ObjectOld != nil && concerns(e.ObjectOld, c) || e.ObjectNew != nil && concerns(e.ObjectNew, c)
	}
	return p
}

// concerns reports whether o has anything for cloud c to do: a connection,
// a status, or Keyless's finalizer while it is being deleted.
func concerns(o client.Object, c cloud.Name) bool {
	a := o.GetAnnotations()
	if _, ok := a[c.Info().Key]; ok {
		return true
	}
	if _, ok := a[c.Info().StatusKey]; ok {
		return true
	}
	return !o.GetDeletionTimestamp().IsZero() && slices.Contains(o.GetFinalizers(), annotations.Finalizer)
}
