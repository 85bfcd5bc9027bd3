package controller

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/record"
)

// Event reasons of the sweep.
const (
	ReasonOrphanRemoved = "OrphanRemoved"
	ReasonOrphanKept    = "RetainedObjectKept"
)

// Gone ends the recorded objects of a ServiceAccount that no longer exists,
// or no longer connects to s's cloud: deleted with its finalizer stripped,
// replaced by another of the same name, or left behind by an earlier
// installation. Without this, the next ServiceAccount of that name would
// inherit the grant, since the clouds key it by namespace and name. Retained
// objects stay while the policy allows them.
func (s *CloudSyncer) Gone(ctx context.Context, key types.NamespacedName, uid types.UID) (reconcile.Result, error) {
	records, err := s.Records.For(ctx, string(s.Cloud), key.Namespace, key.Name)
	if err != nil || len(records) == 0 {
		return reconcile.Result{}, err
	}
	rules, err := s.rulesIn(ctx, key.Namespace, key.Name, annotations.Connections{}, false, false)
	if err != nil {
		return reconcile.Result{}, err
	}
	r := &run{s: s, c: s.Cloud, subject: cloud.Subject{Namespace: key.Namespace, Name: key.Name}, rules: rules}
	var errs error
	for _, e := range records {
		errs = errors.Join(errs, r.orphan(ctx, e, uid))
	}
	return reconcile.Result{}, errs
}

// orphan ends one object whose ServiceAccount is gone (uid is that of a
// ServiceAccount of the same name that does not connect it, or empty).
func (r *run) orphan(ctx context.Context, e record.Entry, uid types.UID) error {
	regarding := r.s.Records.Object(e)
	if r.keep(e) {
		if !e.Retained {
			e.Retained = true
			if err := r.s.Records.Put(ctx, &e); err != nil {
				return err
			}
			r.s.Recorder.Eventf(regarding, nil, corev1.EventTypeNormal, ReasonOrphanKept, "Sweep",
				"%s for %s of %s/%s kept after its ServiceAccount went away (keyless.dev/deletion-policy: retain)",
				cloudObject(r.c), e.Identity, e.Namespace, e.ServiceAccount)
		}
		return nil
	}
	if err := r.removeObject(ctx, regarding, e); err != nil {
		if errors.Is(err, cloud.ErrNotEnabled) {
			log.FromContext(ctx).Info("orphaned cloud object kept until its cloud is configured again",
				"cloud", r.c, "namespace", e.Namespace, "serviceAccount", e.ServiceAccount, "identity", e.Identity)
			return nil
		}
		if statusOnly(e, err) {
			// Tried again at the next sweep, not at once.
			r.s.Recorder.Eventf(regarding, nil, corev1.EventTypeWarning, ReasonCloudFailed, "Sweep",
				"%s of %s/%s, named only by a status: %s", cloudObject(r.c), e.Namespace, e.ServiceAccount, err)
			return nil
		}
		return err
	}
	if err := r.s.Records.Delete(ctx, e); err != nil {
		return err
	}
	if e.Adopted {
		return nil
	}
	orphansRemoved.WithLabelValues(string(r.c)).Inc()
	why := "its ServiceAccount no longer exists"
	if uid != "" && e.UID != string(uid) {
		why = "its ServiceAccount was replaced by another of the same name"
	} else if uid != "" {
		why = "its ServiceAccount no longer connects to it"
	}
	r.s.Recorder.Eventf(regarding, nil, corev1.EventTypeWarning, ReasonOrphanRemoved, "Sweep",
		"%s for %s of %s/%s removed: %s", cloudObject(r.c), e.Identity, e.Namespace, e.ServiceAccount, why)
	return nil
}

// Sweeper queues, every Every and once at start, the ServiceAccount of
// every recorded cloud object in its cloud's queue, so that objects whose
// ServiceAccount went away without Keyless seeing it (finalizer stripped,
// Keyless down or not yet installed) are found and ended. It runs on the
// leader only.
type Sweeper struct {
	Records *record.Store
	Every   time.Duration
	// Queues receives the ServiceAccounts per cloud (a CloudReconciler's Resync).
	Queues map[cloud.Name]chan<- event.GenericEvent
}

// NeedLeaderElection makes the sweep run on the leader only.
func (*Sweeper) NeedLeaderElection() bool { return true }

// Start sweeps until ctx ends.
func (w *Sweeper) Start(ctx context.Context) error {
	t := time.NewTicker(w.Every)
	defer t.Stop()
	for {
		if err := w.sweep(ctx); err != nil {
			log.FromContext(ctx).Error(err, "sweeping the cloud object records")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *Sweeper) sweep(ctx context.Context) error {
	all, err := w.Records.All(ctx, "")
	if err != nil {
		return err
	}
	for _, e := range all {
		q := w.Queues[cloud.Name(e.Cloud)]
		if q == nil {
			continue
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: e.Namespace, Name: e.ServiceAccount}}
		select {
		case q <- event.GenericEvent{Object: sa}:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}
