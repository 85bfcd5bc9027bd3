package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/propagation"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// Event reasons.
const (
	ReasonPropagated = "ConnectionPropagated"
	ReasonCreated    = "ServiceAccountCreated"
	ReasonConflict   = "ConnectionConflict"
	ReasonRefused    = "DefaultServiceAccountRefused"
)

// ServiceAccountReconciler keeps connected ServiceAccounts in step with the
// workloads that use them.
type ServiceAccountReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Options  annotations.Options
	// Workers is the number of concurrent reconciles (0: 1).
	Workers int
	// Sources, when set, learns when the controller's watches have synced.
	Sources *Sources
}

// SetupWithManager registers the controller and its watches.
func (r *ServiceAccountReconciler) SetupWithManager(mgr ctrl.Manager) error {
	c := mgr.GetCache()
	b := ctrl.NewControllerManagedBy(mgr).
		Named("serviceaccount").
		WatchesRawSource(r.Sources.kind(c, &corev1.ServiceAccount{}, &handler.EnqueueRequestForObject{},
			predicate.NewPredicateFuncs(func(o client.Object) bool {
				return annotations.HasPrefixed(o.GetAnnotations()) || controllerutil.ContainsFinalizer(o, annotations.Finalizer)
			}), ignoreOwnWrites)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Workers), RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
			250*time.Millisecond, time.Minute)})
	for _, k := range workload.Kinds {
		b = b.WatchesRawSource(r.Sources.kind(c, k.New(), workloadHandler{}))
	}
	return b.Complete(r)
}

// ignoreOwnWrites drops the update events of the controller's own status
// writes, which would otherwise start the next reconcile at once and keep
// every ServiceAccount in a loop of cloud calls.
var ignoreOwnWrites = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return true
	}
	return !e.ObjectNew.GetDeletionTimestamp().Equal(e.ObjectOld.GetDeletionTimestamp()) ||
		!maps.Equal(withoutStatus(e.ObjectOld.GetAnnotations()), withoutStatus(e.ObjectNew.GetAnnotations())) ||
		!slices.Equal(e.ObjectOld.GetFinalizers(), e.ObjectNew.GetFinalizers()) && !e.ObjectNew.GetDeletionTimestamp().IsZero()
}}

func withoutStatus(a map[string]string) map[string]string {
	out := make(map[string]string, len(a))
	for k, v := range a {
		if !annotations.IsStatusKey(k) {
			out[k] = v
		}
	}
	return out
}

// errAppeared: the ServiceAccount to create was created by someone else
// first; the reconcile is retried after appearedRetry.
var errAppeared = errors.New("it appeared while Keyless created it")

const appearedRetry = 100 * time.Millisecond

// workloadHandler enqueues the ServiceAccount of a connected workload, and on
// an update also the one it used before.
type workloadHandler struct{}

var _ handler.EventHandler = workloadHandler{}

func enqueue(q workqueue.TypedRateLimitingInterface[reconcile.Request], obj client.Object) {
	if obj == nil || !workload.Connected(obj) {
		return
	}
	q.Add(reconcile.Request{NamespacedName: types.NamespacedName{
		Namespace: obj.GetNamespace(), Name: workload.ServiceAccountName(obj)}})
}

func (workloadHandler) Create(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	enqueue(q, e.Object)
}
func (workloadHandler) Update(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	enqueue(q, e.ObjectOld)
	enqueue(q, e.ObjectNew)
}
func (workloadHandler) Delete(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	enqueue(q, e.Object)
}
func (workloadHandler) Generic(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	enqueue(q, e.Object)
}

// Reconcile brings one ServiceAccount in step with its workloads.
func (r *ServiceAccountReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	users, err := workload.Users(ctx, r.Client, req.Namespace, req.Name)
	if err != nil {
		return reconcile.Result{}, err
	}
	sa := &corev1.ServiceAccount{}
	if err := r.Client.Get(ctx, req.NamespacedName, sa); apierrors.IsNotFound(err) {
		sa = nil
	} else if err != nil {
		return reconcile.Result{}, fmt.Errorf("reading ServiceAccount %s: %w", req, err)
	}

	if sa != nil && !sa.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil // the clouds' reconcilers remove what was made
	}

	if req.Name == "default" && len(users) > 0 {
		for _, u := range users {
			r.workloadEvent(ctx, req.Namespace, u, corev1.EventTypeWarning, ReasonRefused,
				"Keyless does not connect the namespace's \"default\" ServiceAccount, which every pod shares; "+
					"set spec.template.spec.serviceAccountName to a ServiceAccount of the workload's own")
		}
		return reconcile.Result{}, nil
	}

	want, hold, problems := propagation.Wanted(users, r.Options)
	if sa == nil {
		if len(want) == 0 {
			return reconcile.Result{}, nil
		}
		err := r.create(ctx, req, users, want, problems)
		if errors.Is(err, errAppeared) {
			// Someone else made it between the read and the create (kubectl
			// apply of the same manifests, say): not a failure; the next
			// reconcile propagates to the one that exists.
			logger.V(1).Info("ServiceAccount appeared while creating it; reconciling it again", "serviceAccount", req)
			return reconcile.Result{RequeueAfter: appearedRetry}, nil
		}
		return reconcile.Result{}, err
	}

	if err := r.adoptUsers(ctx, sa, users); err != nil {
		return reconcile.Result{}, err
	}
	changes, conflicts := propagation.Changes(sa.Annotations, want, hold)
	for _, p := range append(problems, conflicts...) {
		r.Recorder.Eventf(sa, nil, corev1.EventTypeWarning, ReasonConflict, "Propagate", "%s", p)
	}
	if len(changes) > 0 {
		if err := patchAnnotations(ctx, r.Client, sa, changes); err != nil {
			return reconcile.Result{}, err
		}
		logger.V(1).Info("propagated connection annotations", "serviceAccount", req)
		r.Recorder.Eventf(sa, nil, corev1.EventTypeNormal, ReasonPropagated, "Propagate",
			"connection annotations updated from %s", names(users))
	}
	return reconcile.Result{}, nil
}

// adoptUsers makes every current user of a ServiceAccount that Keyless
// created one of its owners. Owned by the first users only, it would be
// garbage-collected, with its cloud binding, when they go while later
// users (Jobs of one generateName, a CronJob beside a Deployment) still
// run as it. Owners are only added: the garbage collector drops those that
// are deleted, and deletes the ServiceAccount with the last.
func (r *ServiceAccountReconciler) adoptUsers(ctx context.Context, sa *corev1.ServiceAccount, users []workload.User) error {
	if sa.Labels[ManagedByLabel] != ManagedByKeyless || !sa.DeletionTimestamp.IsZero() {
		return nil
	}
	refs := ownerRefs(sa.OwnerReferences, users)
	if len(refs) == len(sa.OwnerReferences) {
		return nil
	}
	orig := sa.DeepCopy()
	sa.OwnerReferences = refs
	if err := r.Client.Patch(ctx, sa, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adding the users of ServiceAccount %s/%s as its owners: %w", sa.Namespace, sa.Name, err)
	}
	return nil
}

// ownerRefs returns have with an owner reference added for each user that
// has none.
func ownerRefs(have []metav1.OwnerReference, users []workload.User) []metav1.OwnerReference {
	out := slices.Clone(have)
	for _, u := range users {
		if u.UID == "" || slices.ContainsFunc(out, func(o metav1.OwnerReference) bool { return string(o.UID) == u.UID }) {
			continue
		}
		out = append(out, metav1.OwnerReference{APIVersion: ownerGVK(u.Kind), Kind: u.Kind, Name: u.Name, UID: types.UID(u.UID)})
	}
	return out
}

// The label on the ServiceAccounts Keyless creates; the cache must keep it.
const (
	ManagedByLabel   = "app.kubernetes.io/managed-by"
	ManagedByKeyless = "keyless"
)

func (r *ServiceAccountReconciler) create(ctx context.Context, req reconcile.Request, users []workload.User,
	want map[string]string, problems []string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Name: req.Name, Namespace: req.Namespace, Annotations: map[string]string{},
		Labels: map[string]string{ManagedByLabel: ManagedByKeyless},
	}}
	var keys []string
	for k, v := range want {
		sa.Annotations[k] = v
		keys = append(keys, strings.TrimPrefix(k, annotations.Prefix))
	}
	sa.Annotations[annotations.KeyPropagated] = annotations.FormatList(keys)
	sa.OwnerReferences = ownerRefs(nil, users)
	if err := r.Client.Create(ctx, sa); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("ServiceAccount %s: %w: %w", req, errAppeared, err)
		}
		for _, u := range users {
			r.workloadEvent(ctx, req.Namespace, u, corev1.EventTypeWarning, ReasonConflict,
				fmt.Sprintf("creating ServiceAccount %s failed: %v", req.Name, err))
		}
		return fmt.Errorf("creating ServiceAccount %s: %w", req, err)
	}
	for _, p := range problems {
		r.Recorder.Eventf(sa, nil, corev1.EventTypeWarning, ReasonConflict, "Propagate", "%s", p)
	}
	r.Recorder.Eventf(sa, nil, corev1.EventTypeNormal, ReasonCreated, "Create",
		"created for %s with its connection annotations", names(users))
	return nil
}

// patchAnnotations sends a JSON merge patch of the annotations only, so no
// other field, and no concurrent writer's change, is touched. sa is updated
// from the answer.
func patchAnnotations(ctx context.Context, c client.Client, sa *corev1.ServiceAccount, changes map[string]*string) error {
	if len(changes) == 0 {
		return nil
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": changes}})
	if err != nil {
		return fmt.Errorf("encoding the annotation patch: %w", err)
	}
	if err := c.Patch(ctx, sa, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("patching the annotations of ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	return nil
}

func (r *ServiceAccountReconciler) workloadEvent(ctx context.Context, namespace string, u workload.User, kind, reason, msg string) {
	for _, k := range workload.Kinds {
		if k.Name != u.Kind {
			continue
		}
		obj := k.New()
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: u.Name}, obj); err == nil {
			r.Recorder.Eventf(obj, nil, kind, reason, "Propagate", "%s", msg)
		}
	}
}

func ownerGVK(kind string) string {
	if kind == "Job" || kind == "CronJob" {
		return "batch/v1"
	}
	return "apps/v1"
}

func names(users []workload.User) string {
	s := make([]string, len(users))
	for i, u := range users {
		s[i] = u.String()
	}
	return strings.Join(s, ", ")
}
