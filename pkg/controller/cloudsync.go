package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// Event reasons of the cloud side.
const (
	ReasonCloudCreated  = "CloudObjectCreated"
	ReasonCloudUpdated  = "CloudObjectUpdated"
	ReasonCloudAdopted  = "CloudObjectAdopted"
	ReasonCloudDeleted  = "CloudObjectDeleted"
	ReasonCloudRetained = "CloudObjectRetained"
	ReasonCloudFailed   = "CloudSyncFailed"
	ReasonCloudDisabled = "CloudNotConfigured"
	ReasonRestarted     = "WorkloadRestarted"
)

// CloudSyncer makes the clouds match one ServiceAccount's connections. It
// implements Syncer.
type CloudSyncer struct {
	Client   client.Client
	Recorder events.EventRecorder
	Options  annotations.Options
	// Providers holds the configured clouds; a cloud not in it is off.
	Providers map[cloud.Name]cloud.Provider
	// Resync is the mean period of drift repair; each requeue is jittered by ±10%.
	Resync time.Duration
	// RestartWorkloads restarts the workloads of a ServiceAccount whose AWS
	// or Azure connection first became ready: those clouds inject
	// credentials only when a pod is created.
	RestartWorkloads bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Policy returns the policy in force; nil means no policy checks.
	Policy func() *policy.Policy
	// Cluster is where the cluster's own identities live, for policy matching.
	Cluster policy.Cluster
	// Clouds are the clouds this syncer handles; nil means all. With one
	// syncer per cloud, each in its own queue (CloudReconciler), a cloud
	// whose request budget is spent does not hold up the others.
	Clouds []cloud.Name
}

// clouds returns the clouds s handles.
func (s *CloudSyncer) clouds() []cloud.Name {
	if s.Clouds == nil {
		return clouds
	}
	return s.Clouds
}

var _ Syncer = (*CloudSyncer)(nil)

func (s *CloudSyncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Sync reconciles the cloud side of sa and, when it is being deleted,
// removes the cloud objects and then the finalizer.
func (s *CloudSyncer) Sync(ctx context.Context, sa *corev1.ServiceAccount) (reconcile.Result, error) {
	conns, errs := annotations.Parse(sa.Annotations, s.Options)
	if !sa.DeletionTimestamp.IsZero() {
		// Even with invalid annotations: a deletion must not get stuck.
		return s.finalize(ctx, sa, conns)
	}
	if len(errs) > 0 {
		s.Recorder.Eventf(sa, nil, corev1.EventTypeWarning, ReasonCloudFailed, "Sync",
			"invalid keyless.dev annotations, nothing done in the clouds: %s", errs.ToAggregate())
		return reconcile.Result{}, nil
	}
	if !conns.Empty() {
		// Before any cloud write, so that a ServiceAccount deleted during
		// the calls below waits for the removal of what they make. The
		// webhook adds it at admission; this covers ServiceAccounts
		// admitted without it (before Keyless was installed).
		if err := s.ensureFinalizer(ctx, sa, true); err != nil {
			return reconcile.Result{}, err
		}
	}

	subject := cloud.Subject{Namespace: sa.Namespace, Name: sa.Name}
	violations, err := s.evaluatePolicy(ctx, sa, conns)
	if err != nil {
		return reconcile.Result{}, err
	}
	changes := map[string]*string{}
	var transient error
	becameReady := false
	for _, c := range s.clouds() {
		before := readStatus(sa.Annotations, c)
		var after *Status
		var err error
		if v := enforcedFor(violations, c, conns); v != nil {
			after, err = s.refuse(ctx, sa, c, subject, conns, before, v)
		} else {
			after, err = s.syncCloud(ctx, sa, c, subject, conns, before, changes)
		}
		if err != nil && !cloud.Permanent(err) {
			transient = errors.Join(transient, err)
		}
		switch {
		case after == nil && before != nil:
			changes[statusKeys[c]] = nil
		case after != nil:
			changes[statusKeys[c]] = encodeStatus(after)
		}
		setConnectionState(sa, c, after)
		if after != nil && after.State == StateReady && (before == nil || before.State != StateReady) && c != cloud.GCP {
			becameReady = true
		}
	}
	if !conns.Empty() || len(statusesOf(changes, sa)) > 0 {
		if err := s.ensureFinalizer(ctx, sa, true); err != nil {
			return reconcile.Result{}, err
		}
	}
	if err := patchAnnotations(ctx, s.Client, sa, changes); err != nil {
		return reconcile.Result{}, err
	}
	// The finalizer goes once nothing is connected and no cloud has a
	// status left. sa is the server's copy after the patch, so with one
	// syncer per cloud the last to remove its status sees the others gone.
	if conns.Empty() && len(statusesOf(nil, sa)) == 0 {
		if err := s.ensureFinalizer(ctx, sa, false); err != nil {
			return reconcile.Result{}, err
		}
	}
	if becameReady && s.RestartWorkloads {
		s.restartWorkloads(ctx, sa)
	}
	if transient != nil {
		return reconcile.Result{}, transient
	}
	return reconcile.Result{RequeueAfter: s.jitter()}, nil
}

// syncCloud handles one cloud: removes what an old identity left behind,
// then ensures the wanted one. It returns the new status (nil: none).
func (s *CloudSyncer) syncCloud(ctx context.Context, sa *corev1.ServiceAccount, c cloud.Name, subject cloud.Subject,
	conns annotations.Connections, before *Status, changes map[string]*string) (*Status, error) {
	want, wanted := connectionFor(c, subject, conns)
	identity := identityOf(c, conns)
	p := s.Providers[c]

	// An identity that changed or went away: its object goes first (AWS
	// updates the one association of the ServiceAccount in place instead).
	if before != nil && before.Identity != "" && (!wanted || (before.Identity != identity && c != cloud.AWS)) {
		if err := s.removeRecorded(ctx, sa, c, subject, conns.Retain, before, p); err != nil {
			return s.failed(sa, c, before.Identity, before, err), err
		}
		before = nil
	}
	if !wanted {
		return nil, nil
	}
	if p == nil {
		st := &Status{State: StateDisabled, Reason: "NotConfigured", Identity: identity, LastSync: s.now(),
			Message: fmt.Sprintf("%s is not configured in Keyless, so this connection is not made; "+
				"configure it (see keyless serve --help) or remove the annotation", cloudTitle(c))}
		if before == nil || before.State != StateDisabled {
			s.Recorder.Eventf(sa, nil, corev1.EventTypeWarning, ReasonCloudDisabled, "Sync", "%s", st.Message)
		}
		return st, nil
	}
	if before == nil || before.Identity == "" {
		// Put the identity on record before the first cloud write for it
		// (the webhook has usually done so at admission): if Keyless stops
		// between that write and the status below and the connection is
		// removed meanwhile, the record still names what to clean up.
		intent := &Status{State: StatePending, Reason: "Connecting", Identity: identity, LastSync: s.now(),
			Message: fmt.Sprintf("making the %s", cloudObject(c))}
		if err := patchAnnotations(ctx, s.Client, sa, map[string]*string{statusKeys[c]: encodeStatus(intent)}); err != nil {
			return nil, err
		}
	}
	hash := fingerprint(want)
	if before != nil {
		want.KnownID = before.ID
	}
	if before != nil && before.State == StateReady && before.Hash == hash && s.now().Sub(before.LastSync) < s.Resync/2 {
		// Synced moments ago (this reconcile is for another cloud or
		// another change): the next resync checks for drift.
		return before, nil
	}
	r, err := p.Ensure(ctx, want)
	if err != nil {
		return s.failed(sa, c, identity, before, err), err
	}
	st := &Status{State: StateReady, Reason: string(r.Action), Identity: identity, ID: r.ID, Hash: hash, LastSync: s.now(),
		Message: fmt.Sprintf("%s %s", cloudObject(c), actionWord(r.Action))}
	if reason := actionReason(r.Action); reason != "" {
		s.event(ctx, sa, corev1.EventTypeNormal, reason, "%s %s for %s: %s", cloudObject(c), actionWord(r.Action), identity, r.ID)
	}
	if c == cloud.Azure {
		s.recordClientID(sa, conns, r.ClientID, changes)
	}
	return st, nil
}

func (s *CloudSyncer) failed(sa *corev1.ServiceAccount, c cloud.Name, identity string, before *Status, err error) *Status {
	state := StatePending
	if cloud.Permanent(err) {
		state = StateError
	}
	st := &Status{State: state, Reason: cloud.Outcome(cloud.Result{}, err), Identity: identity, LastSync: s.now(),
		Message: err.Error()}
	if before != nil {
		st.ID = before.ID
		if before.Identity != "" && before.Identity != identity {
			// Still holding the old object: remember it for the next attempt.
			st.Identity = before.Identity
		}
	}
	if before == nil || before.Message != st.Message {
		s.Recorder.Eventf(sa, nil, corev1.EventTypeWarning, ReasonCloudFailed, "Sync", "%s: %s", cloudTitle(c), err)
	}
	return st
}

// removeRecorded removes the cloud object recorded in st, unless retained.
func (s *CloudSyncer) removeRecorded(ctx context.Context, sa *corev1.ServiceAccount, c cloud.Name, subject cloud.Subject,
	retain bool, st *Status, p cloud.Provider) error {
	if retain {
		s.Recorder.Eventf(sa, nil, corev1.EventTypeNormal, ReasonCloudRetained, "Delete",
			"%s for %s kept (keyless.dev/deletion-policy: retain): %s", cloudObject(c), st.Identity, st.ID)
		return nil
	}
	if p == nil {
		s.Recorder.Eventf(sa, nil, corev1.EventTypeWarning, ReasonCloudDisabled, "Delete",
			"%s is not configured in Keyless, so its %s for %s (%s) cannot be removed; remove it by hand",
			cloudTitle(c), cloudObject(c), st.Identity, st.ID)
		return nil
	}
	conn, ok := connectionFromStatus(c, subject, st, s.Options)
	if !ok {
		return nil
	}
	conn.KnownID = st.ID
	r, err := p.Remove(ctx, conn)
	switch {
	case errors.Is(err, cloud.ErrNotFound):
		// The identity itself is gone, and with it anything Keyless made on it.
		return nil
	case err != nil:
		return fmt.Errorf("removing the %s for %s: %w", cloudObject(c), st.Identity, err)
	case r.Action == cloud.Deleted:
		s.event(ctx, sa, corev1.EventTypeNormal, ReasonCloudDeleted, "%s for %s deleted: %s", cloudObject(c), st.Identity, r.ID)
	}
	return nil
}

// finalize removes every recorded cloud object of s's clouds and their
// statuses, then the finalizer once no status of any cloud is left (with one
// syncer per cloud, the last one to finish removes it). A status is written
// before any cloud object is made, so no status left means no object left.
// It never blocks on an object that is already gone or a cloud that is off.
func (s *CloudSyncer) finalize(ctx context.Context, sa *corev1.ServiceAccount, conns annotations.Connections) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(sa, annotations.Finalizer) {
		return reconcile.Result{}, nil
	}
	subject := cloud.Subject{Namespace: sa.Namespace, Name: sa.Name}
	var errs error
	done := map[string]*string{}
	for _, c := range s.clouds() {
		st := readStatus(sa.Annotations, c)
		if st == nil || st.Identity == "" {
			// No record (a ServiceAccount admitted without the webhook, and
			// a crash before the controller's own record): remove what the
			// annotation names, found by listing.
			if identity := identityOf(c, conns); identity != "" {
				st = &Status{Identity: identity}
			} else {
				if _, ok := sa.Annotations[statusKeys[c]]; ok {
					done[statusKeys[c]] = nil
				}
				continue
			}
		}
		if err := s.removeRecorded(ctx, sa, c, subject, conns.Retain, st, s.Providers[c]); err != nil {
			s.Recorder.Eventf(sa, nil, corev1.EventTypeWarning, ReasonCloudFailed, "Delete", "%s", err)
			errs = errors.Join(errs, err)
			continue
		}
		if _, ok := sa.Annotations[statusKeys[c]]; ok {
			done[statusKeys[c]] = nil
		}
	}
	if err := patchAnnotations(ctx, s.Client, sa, done); err != nil {
		return reconcile.Result{}, errors.Join(errs, err)
	}
	if errs != nil {
		return reconcile.Result{}, errs
	}
	s.forgetConnections(sa)
	if len(statusesOf(nil, sa)) > 0 {
		return reconcile.Result{}, nil // another cloud's syncer has work left
	}
	return reconcile.Result{}, s.ensureFinalizer(ctx, sa, false)
}

func (s *CloudSyncer) ensureFinalizer(ctx context.Context, sa *corev1.ServiceAccount, want bool) error {
	if want == controllerutil.ContainsFinalizer(sa, annotations.Finalizer) {
		return nil
	}
	orig := sa.DeepCopy()
	if want {
		controllerutil.AddFinalizer(sa, annotations.Finalizer)
	} else {
		controllerutil.RemoveFinalizer(sa, annotations.Finalizer)
	}
	if err := s.Client.Patch(ctx, sa, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("updating the finalizer of ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	return nil
}

// recordClientID writes azure.workload.identity/client-id from the cloud's
// answer, unless the user gave the client ID or wrote the annotation.
func (s *CloudSyncer) recordClientID(sa *corev1.ServiceAccount, conns annotations.Connections, clientID string, changes map[string]*string) {
	if clientID == "" || conns.Azure.ClientID != "" {
		return
	}
	injected := annotations.ParseList(sa.Annotations[annotations.KeyInjected])
	mine := false
	for _, i := range injected {
		mine = mine || i == annotations.InjectedAzureClientID
	}
	cur, present := sa.Annotations[annotations.AzureClientIDAnnotation]
	if present && !mine {
		return
	}
	if cur != clientID {
		changes[annotations.AzureClientIDAnnotation] = &clientID
	}
	if !mine {
		list := annotations.FormatList(append(injected, annotations.InjectedAzureClientID))
		changes[annotations.KeyInjected] = &list
	}
}

// restartWorkloads bumps the pod-template annotation of the workloads that
// run as sa, so that new pods get the credentials injected at creation.
func (s *CloudSyncer) restartWorkloads(ctx context.Context, sa *corev1.ServiceAccount) {
	users, err := workload.Users(ctx, s.Client, sa.Namespace, sa.Name)
	if err != nil {
		log.FromContext(ctx).Error(err, "listing workloads to restart")
		return
	}
	stamp := s.now().UTC().Format(time.RFC3339)
	for _, u := range users {
		if parsed, _ := annotations.Parse(u.Annotations, s.Options); parsed.NoRestart {
			continue
		}
		obj := workload.New(u.Kind)
		if obj == nil || u.Kind == "Job" { // a Job's template is immutable
			continue
		}
		if err := s.Client.Get(ctx, types.NamespacedName{Namespace: sa.Namespace, Name: u.Name}, obj); err != nil {
			continue
		}
		path := workload.PodTemplatePath(u.Kind)
		patch := nestedPatch(path, map[string]any{"metadata": map[string]any{"annotations": map[string]any{annotations.KeyRestartedAt: stamp}}})
		raw, _ := json.Marshal(patch)
		if err := s.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, raw)); err != nil {
			log.FromContext(ctx).Error(err, "restarting workload", "workload", u.String())
			continue
		}
		s.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, ReasonRestarted, "Restart",
			"restarted so that its pods get the credentials of ServiceAccount %s, whose connection is now ready", sa.Name)
	}
}

func nestedPatch(path []string, leaf map[string]any) map[string]any {
	for i := len(path) - 1; i >= 0; i-- {
		leaf = map[string]any{path[i]: leaf}
	}
	return leaf
}

// event records an event on the ServiceAccount and on the workloads that use it.
func (s *CloudSyncer) event(ctx context.Context, sa *corev1.ServiceAccount, kind, reason, format string, args ...any) {
	s.Recorder.Eventf(sa, nil, kind, reason, "Sync", format, args...)
	users, err := workload.Users(ctx, s.Client, sa.Namespace, sa.Name)
	if err != nil {
		return
	}
	for _, u := range users {
		obj := workload.New(u.Kind)
		if obj == nil || s.Client.Get(ctx, types.NamespacedName{Namespace: sa.Namespace, Name: u.Name}, obj) != nil {
			continue
		}
		s.Recorder.Eventf(obj, sa, kind, reason, "Sync", "ServiceAccount "+sa.Name+": "+format, args...)
	}
}

func (s *CloudSyncer) jitter() time.Duration {
	if s.Resync <= 0 {
		return 0
	}
	return time.Duration(float64(s.Resync) * (0.9 + 0.2*rand.Float64()))
}

func statusesOf(changes map[string]*string, sa *corev1.ServiceAccount) []string {
	var out []string
	for _, k := range statusKeys {
		v, changed := changes[k]
		if (changed && v != nil) || (!changed && sa.Annotations[k] != "") {
			out = append(out, k)
		}
	}
	return out
}

func cloudTitle(c cloud.Name) string {
	return map[cloud.Name]string{cloud.AWS: "AWS", cloud.Azure: "Azure", cloud.GCP: "GCP"}[c]
}

func cloudObject(c cloud.Name) string {
	return map[cloud.Name]string{
		cloud.AWS:   "EKS Pod Identity association",
		cloud.Azure: "federated identity credential",
		cloud.GCP:   "roles/iam.workloadIdentityUser binding",
	}[c]
}

func actionWord(a cloud.Action) string {
	return map[cloud.Action]string{cloud.Created: "created", cloud.Updated: "updated", cloud.Adopted: "adopted",
		cloud.Unchanged: "in place", cloud.Deleted: "deleted", cloud.Absent: "absent"}[a]
}

func actionReason(a cloud.Action) string {
	return map[cloud.Action]string{cloud.Created: ReasonCloudCreated, cloud.Updated: ReasonCloudUpdated,
		cloud.Adopted: ReasonCloudAdopted}[a]
}
