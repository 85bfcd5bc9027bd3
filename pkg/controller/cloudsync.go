package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/record"
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
	// Records keeps the list of cloud objects Keyless made or adopted; it
	// is required.
	Records *record.Store
	// Resync is the period of drift repair. AWS requeues are jittered by
	// ±10%; Azure and GCP ones are aligned per identity (see resyncIn).
	Resync time.Duration
	// RestartWorkloads restarts the workloads of a ServiceAccount when the
	// credentials a new AWS or Azure pod would get differ from those its
	// running pods got: those clouds inject credentials only when a pod is
	// created.
	RestartWorkloads bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Policy returns the policy in force; nil means no policy checks.
	Policy func() *policy.Policy
	// Cluster is where the cluster's own identities live, for policy matching.
	Cluster policy.Cluster
	// Cloud is the cloud this syncer handles. With one syncer per cloud,
	// each in its own queue (CloudReconciler), a cloud whose request
	// budget is spent does not hold up the others.
	Cloud cloud.Name
}

var _ Syncer = (*CloudSyncer)(nil)

func (s *CloudSyncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Sync reconciles the cloud side of sa and, when it is being deleted,
// removes the cloud objects and then the finalizer. In order: the
// finalizer goes on before any cloud write; the cloud is made to match
// (run.sync: retire old objects, policy, record the intent, cloud call);
// the status is written, with the events; the finalizer goes once nothing
// is left to remove; the workloads restart when new pods get other
// credentials.
func (s *CloudSyncer) Sync(ctx context.Context, sa *corev1.ServiceAccount) (reconcile.Result, error) {
	conns, errs := annotations.Parse(sa.Annotations, s.Options)
	if !sa.DeletionTimestamp.IsZero() {
		// Even with invalid annotations: a deletion must not get stuck.
		return s.finalize(ctx, sa, conns)
	}
	if len(errs) > 0 {
		if string(s.Cloud) == annotations.Clouds[0].Name { // one event, not one per cloud's syncer
			s.Recorder.Eventf(sa, nil, corev1.EventTypeWarning, ReasonCloudFailed, "Sync",
				"invalid keyless.dev annotations, nothing done in the clouds: %s", errs.ToAggregate())
		}
		return reconcile.Result{}, nil
	}
	r, err := s.newRun(ctx, sa, conns)
	if err != nil {
		return reconcile.Result{}, err
	}
	// The finalizer holds the deletion while anything is connected or a
	// status says an object may exist, so that a ServiceAccount deleted
	// during the cloud calls waits for the removal of what they make. The
	// webhook adds it at admission; this covers ServiceAccounts admitted
	// without it (before Keyless was installed). It goes only after the
	// sync, once the objects on record are retired.
	if holdsFinalizer(sa, conns) {
		if err := s.ensureFinalizer(ctx, sa, true); err != nil {
			return reconcile.Result{}, err
		}
	}
	after, err := r.sync(ctx)
	var transient error
	if err != nil && !cloud.Permanent(err) {
		transient = err
	}
	if err := r.writeStatus(ctx, after); err != nil {
		return reconcile.Result{}, err
	}
	// sa is now the server's copy: with one syncer per cloud, the last to
	// remove its status sees the others gone and removes the finalizer.
	if err := s.ensureFinalizer(ctx, sa, holdsFinalizer(sa, conns)); err != nil {
		return reconcile.Result{}, err
	}
	if s.RestartWorkloads && needsRestart(s.Cloud.Info(), r.before, after) {
		r.restartWorkloads(ctx)
	}
	if transient != nil {
		return reconcile.Result{}, transient
	}
	return reconcile.Result{RequeueAfter: s.resyncIn(conns)}, nil
}

// holdsFinalizer reports whether sa must keep Keyless's finalizer: while
// it connects anything, or any cloud's status is left.
func holdsFinalizer(sa *corev1.ServiceAccount, conns annotations.Connections) bool {
	return !conns.Empty() || len(statusesOf(nil, sa)) > 0
}

// newRun starts one reconcile of s's cloud for sa: the policy's verdict
// and the status on record.
func (s *CloudSyncer) newRun(ctx context.Context, sa *corev1.ServiceAccount, conns annotations.Connections) (*run, error) {
	rules, err := s.rulesFor(ctx, sa, conns)
	if err != nil {
		return nil, err
	}
	return &run{s: s, c: s.Cloud, sa: sa, subject: cloud.Subject{Namespace: sa.Namespace, Name: sa.Name},
		conns: conns, rules: rules, before: readStatus(sa.Annotations, s.Cloud), changes: map[string]*string{}}, nil
}

// writeStatus writes the status after the sync (nil: none) with the other
// annotation changes of the run, and updates the connection gauge.
func (r *run) writeStatus(ctx context.Context, after *Status) error {
	key := r.c.Info().StatusKey
	switch {
	case after == nil && r.before != nil:
		r.changes[key] = nil
	case after != nil:
		// Not written again when unchanged: a reconcile caused by this
		// one's own annotation writes must not write them twice.
		if v := encodeStatus(after); *v != r.sa.Annotations[key] {
			r.changes[key] = v
		}
	}
	setConnectionState(r.sa, r.c, after)
	return patchAnnotations(ctx, r.s.Client, r.sa, r.changes)
}

// resyncIn is when sa's next drift check is due. The ServiceAccounts that
// share an Azure identity or a Google service account come due at the same
// moments, a phase of the period that the identity's name fixes, so that
// one read of the identity (the providers' ReadReuse) serves all their
// checks; different identities spread over the period. The next moment at
// least half a period away is taken, so checks stay Resync apart on
// average. AWS checks one association per ServiceAccount: jittered.
func (s *CloudSyncer) resyncIn(conns annotations.Connections) time.Duration {
	if s.Resync <= 0 {
		return 0
	}
	var key string
	if s.Cloud.Info().ObjectOnIdentity {
		key = identityOf(s.Cloud, conns)
	}
	if key == "" {
		return s.jitter()
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(strings.ToLower(key)))
	phase := time.Duration(h.Sum64() % uint64(s.Resync))
	since := time.Duration(s.now().UnixNano() % int64(s.Resync))
	d := (phase - since + s.Resync) % s.Resync
	if d < s.Resync/2 {
		d += s.Resync
	}
	return d
}

// run is one reconcile of one cloud's side of one ServiceAccount.
type run struct {
	s       *CloudSyncer
	c       cloud.Name
	sa      *corev1.ServiceAccount
	subject cloud.Subject
	conns   annotations.Connections
	rules   *rules
	// before is the status on record; nil when none.
	before *Status
	// changes collects the run's annotation writes.
	changes map[string]*string
	// users are the workloads that run as sa, read once, when needed.
	users     []workload.User
	usersRead bool
}

// workloads lists the workloads that run as the ServiceAccount, read once
// per run; nil when they cannot be read.
func (r *run) workloads(ctx context.Context) []workload.User {
	if !r.usersRead {
		r.usersRead = true
		users, err := workload.Users(ctx, r.s.Client, r.sa.Namespace, r.sa.Name)
		if err != nil {
			log.FromContext(ctx).Error(err, "listing the workloads of a ServiceAccount")
		}
		r.users = users
	}
	return r.users
}

// sync handles one cloud, in order: retire the objects of identities no
// longer wanted, check the policy, then ensure the object (record the
// intent, call the cloud, record the result), and return the status to
// write (nil: none).
func (r *run) sync(ctx context.Context) (*Status, error) {
	want, wanted := cloud.Wanted(r.c, r.subject, r.conns)
	identity := identityOf(r.c, r.conns)
	if wanted && r.sa.Name == "default" {
		// Every pod that names no ServiceAccount runs as "default".
		return r.refuse(ctx, identity, &policy.Violation{Rule: "default-service-account", Mode: policy.Enforce,
			Message: "Keyless does not connect a namespace's \"default\" ServiceAccount, which every pod that names " +
				"no ServiceAccount shares; annotate the workload instead, or a ServiceAccount made for it"}, true)
	}
	records, err := r.recorded(ctx)
	if err != nil {
		return r.failed(identity, err), err
	}
	// A switch removes the previous identity's object at once; a
	// connection that went away keeps it only under an allowed retain.
	// AWS updates the ServiceAccount's one association in place instead,
	// so its old records are dropped after the Ensure below.
	if !wanted {
		if err := r.retireAll(ctx, records); err != nil {
			return r.failed(identityIn(r.before), err), err
		}
		return nil, nil
	}
	for _, e := range records {
		if e.Identity == identity || !r.c.Info().ObjectOnIdentity && !e.Adopted {
			continue
		}
		if err := r.retire(ctx, e, false); err != nil {
			return r.failed(e.Identity, err), err
		}
	}
	if v := r.rules.enforcedFor(r.c); v != nil {
		return r.refuse(ctx, identity, v, false)
	}
	p := r.s.Providers[r.c]
	if p == nil {
		st := &Status{State: StateDisabled, Reason: "NotConfigured", Identity: identity, LastSync: r.s.now(),
			Message: fmt.Sprintf("%s is not configured in Keyless, so this connection is not made; "+
				"configure it (see keyless serve --help) or remove the annotation", cloudTitle(r.c))}
		if r.before == nil || r.before.State != StateDisabled {
			r.s.Recorder.Eventf(r.sa, nil, corev1.EventTypeWarning, ReasonCloudDisabled, "Sync", "%s", st.Message)
		}
		return st, nil
	}
	return r.ensure(ctx, p, want, identity, records)
}

// ensure records the intent, makes the cloud object for want, records the
// result, and returns the Ready status.
func (r *run) ensure(ctx context.Context, p cloud.Provider, want cloud.Connection, identity string,
	records []record.Entry) (*Status, error) {
	hash := fingerprint(want)
	if b := r.before; b != nil && b.Identity == identity && b.State == StateReady && b.Hash == hash &&
		recordedFor(records, identity) && between(r.s.now().Sub(b.LastSync), 0, r.s.Resync/2) {
		// Synced moments ago (this reconcile is for another cloud or
		// another change): the next resync checks for drift.
		return b, nil
	}
	// The intent goes on record before the first cloud write for it, so
	// that an object is found again whatever happens to the ServiceAccount.
	rec, first, err := r.intent(ctx, records, identity)
	if err != nil {
		return r.failed(identity, err), err
	}
	if r.before != nil && r.before.Identity == identity {
		want.KnownID = r.before.ID
	}
	res, err := p.Ensure(ctx, want)
	if err != nil {
		return r.failed(identity, err), err
	}
	if err := r.recordResult(ctx, rec, first, res); err != nil {
		return r.failed(identity, err), err
	}
	if !r.c.Info().ObjectOnIdentity {
		for _, e := range records {
			if e.Identity != identity {
				if err := r.s.Records.Delete(ctx, e); err != nil {
					return r.failed(identity, err), err
				}
			}
		}
	}
	action := res.Action
	if action == cloud.Adopted && !first {
		// Adopted at the first sync (rec.Adopted), or made by an earlier
		// attempt of Keyless's whose answer was lost: nothing new either way.
		action = cloud.Unchanged
	}
	st := &Status{State: StateReady, Reason: string(action), Identity: identity, ID: res.ID, Hash: hash,
		LastSync: r.s.now(), Adopted: rec.Adopted, Served: served(r.c.Info(), identity, res.ClientID, r.before),
		Message: fmt.Sprintf("%s %s", cloudObject(r.c), actionWord(action))}
	if reason := actionReason(action); reason != "" {
		r.event(ctx, corev1.EventTypeNormal, reason, "%s %s for %s: %s", cloudObject(r.c), actionWord(action), identity, res.ID)
	}
	if r.c.Info().ServesClientID {
		r.s.recordClientID(r.sa, r.conns, res.ClientID, r.changes)
	}
	return st, nil
}

func between(d, lo, hi time.Duration) bool { return d >= lo && d < hi }

// recorded returns the records of this cloud's objects for the
// ServiceAccount, plus the identity of a status that has none (written by
// the webhook at admission, or by an older version of Keyless), which may
// still name an object. The ServiceAccount's owner can write the status
// too, so it never says an object was adopted: only a record does, written
// from the cloud's answer to a first Ensure; adopted objects are never
// removed.
func (r *run) recorded(ctx context.Context) ([]record.Entry, error) {
	var out []record.Entry
	out, err := r.s.Records.For(ctx, string(r.c), r.subject.Namespace, r.subject.Name)
	if err != nil {
		return nil, err
	}
	if b := r.before; b != nil && b.Identity != "" && !recordedFor(out, b.Identity) {
		e := record.Entry{Cloud: string(r.c), Namespace: r.subject.Namespace, ServiceAccount: r.subject.Name,
			Identity: b.Identity, ID: b.ID, Synthetic: true}
		if b.ID != "" || b.State == StateReady {
			// Made by an older version of Keyless: put it on record,
			// saying that only the status says so.
			e.Synthetic, e.FromStatus = false, true
			if r.sa != nil {
				e.UID = string(r.sa.UID)
			}
			if err := r.s.Records.Put(ctx, &e); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func recordedFor(records []record.Entry, identity string) bool {
	for _, e := range records {
		if e.Identity == identity {
			return true
		}
	}
	return false
}

// intent writes the record of the wanted identity's object, or brings it up
// to date (a new ServiceAccount of the same name, a changed retain). first
// says no record existed: nothing was written to the cloud for it yet.
func (r *run) intent(ctx context.Context, records []record.Entry, identity string) (*record.Entry, bool, error) {
	retain := r.conns.Retain && r.rules.retainAllowed
	for i := range records {
		e := &records[i]
		if e.Identity != identity || e.Synthetic {
			continue
		}
		if e.UID != string(r.sa.UID) || e.Retain != retain || e.Retained {
			e.UID, e.Retain, e.Retained = string(r.sa.UID), retain, false
			if err := r.s.Records.Put(ctx, e); err != nil {
				return nil, false, err
			}
		}
		return e, false, nil
	}
	// No record, so no write yet (recorded has put an older status's
	// object on record): what Ensure finds now was there before Keyless.
	e := &record.Entry{Cloud: string(r.c), Namespace: r.subject.Namespace, ServiceAccount: r.subject.Name,
		UID: string(r.sa.UID), Identity: identity, Retain: retain}
	return e, true, r.s.Records.Put(ctx, e)
}

// recordResult stores whether the object was adopted: only the answer to a
// first Ensure can say so, since a later one finds what an earlier attempt
// of Keyless's made. The object's ID goes with it, but is not worth a write
// of its own: the status holds it too, and a removal without it finds the
// object by listing.
//
// A record put there from a status is Keyless's own once it has ensured
// the object.
func (r *run) recordResult(ctx context.Context, e *record.Entry, first bool, res cloud.Result) error {
	adopted := e.Adopted || (first && res.Action == cloud.Adopted)
	if e.Adopted == adopted && !e.FromStatus {
		return nil
	}
	e.ID, e.Adopted, e.FromStatus = res.ID, adopted, false
	return r.s.Records.Put(ctx, e)
}

// retire ends one recorded object: an adopted one is left alone; one whose
// connection went away with an allowed retain is kept, on record; any
// other is removed from the cloud. Then its record goes.
func (r *run) retire(ctx context.Context, e record.Entry, gone bool) error {
	if gone && r.keep(e) {
		if !e.Retained {
			e.Retained = true
			if err := r.s.Records.Put(ctx, &e); err != nil {
				return err
			}
			r.s.Recorder.Eventf(r.sa, nil, corev1.EventTypeNormal, ReasonCloudRetained, "Delete",
				"%s for %s kept (keyless.dev/deletion-policy: retain); it stays on record in the cluster: %s",
				cloudObject(r.c), e.Identity, e.ID)
		}
		return nil
	}
	if b := r.before; e.ID == "" && b != nil && b.Identity == e.Identity {
		e.ID = b.ID
	}
	if err := r.removeObject(ctx, r.sa, e); err != nil {
		return err
	}
	if e.Synthetic {
		return nil
	}
	return r.s.Records.Delete(ctx, e)
}

// retireAll retires the objects of a connection that went away. An object
// of a cloud that is no longer configured stays on record, to be removed
// once it is configured again, and holds nothing up. Nor does an object
// that only a status names (statusOnly) whose removal fails for good.
func (r *run) retireAll(ctx context.Context, records []record.Entry) error {
	for _, e := range records {
		err := r.retire(ctx, e, true)
		if errors.Is(err, cloud.ErrNotEnabled) && r.sa != nil {
			r.s.Recorder.Eventf(r.sa, nil, corev1.EventTypeWarning, ReasonCloudDisabled, "Delete", "%s", err)
			continue
		}
		if statusOnly(e, err) && r.sa != nil {
			r.s.Recorder.Eventf(r.sa, nil, corev1.EventTypeWarning, ReasonCloudFailed, "Delete",
				"%s; only a status names this object, which the ServiceAccount's owner can write, so it does not "+
					"hold the deletion (a record of it stays for the sweep)", err)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// statusOnly reports whether err, from retiring e, fails for good on an
// object that nothing but a status says Keyless made: a status the
// ServiceAccount's owner may have written, naming an identity Keyless may
// not touch. Retrying it cannot help, and must not hold anything up.
func statusOnly(e record.Entry, err error) bool {
	return err != nil && (e.Synthetic || e.FromStatus) && cloud.Permanent(err)
}

// keep reports whether a retained object stays: retain was asked for and
// the policy allows it (retain in the namespace, and the identity), or
// the object was retained before and the policy says to report, not
// remove, what it no longer allows.
func (r *run) keep(e record.Entry) bool {
	if e.Synthetic || !(e.Retain || e.Retained || r.conns.Retain) {
		return false
	}
	if r.rules.retainAllowed && r.rules.identityAllowed(r.c, e.Identity) {
		return true
	}
	return e.Retained && r.rules.existing != policy.Remove
}

func (r *run) failed(identity string, err error) *Status {
	state := StatePending
	if cloud.Permanent(err) {
		state = StateError
	}
	st := &Status{State: state, Reason: cloud.Outcome(cloud.Result{}, err), Identity: identity, LastSync: r.s.now(),
		Message: err.Error()}
	if b := r.before; b != nil {
		st.Served, st.Adopted = servedBy(b), b.Adopted
		if b.Identity == identity {
			st.ID = b.ID
		}
	}
	if r.before == nil || r.before.Message != st.Message {
		r.s.Recorder.Eventf(r.sa, nil, corev1.EventTypeWarning, ReasonCloudFailed, "Sync", "%s: %s", cloudTitle(r.c), err)
	}
	return st
}

// removeObject deletes one recorded object from the cloud, unless Keyless
// did not make it (adopted).
func (r *run) removeObject(ctx context.Context, regarding runtime.Object, e record.Entry) error {
	s, c, subject := r.s, r.c, r.subject
	if e.Adopted {
		s.Recorder.Eventf(regarding, nil, corev1.EventTypeNormal, ReasonCloudRetained, "Delete",
			"%s for %s left in place: it existed before Keyless connected the ServiceAccount (adopted)", cloudObject(c), e.Identity)
		return nil
	}
	p := s.Providers[c]
	if p == nil {
		// Kept on record: removed once the cloud is configured again.
		return fmt.Errorf("%w: %s is not configured in Keyless, so its %s for %s (%s) cannot be removed; "+
			"configure it again, or remove the object by hand and then its record", cloud.ErrNotEnabled,
			cloudTitle(c), cloudObject(c), e.Identity, e.ID)
	}
	conn, ok := connectionFromStatus(c, subject, &Status{Identity: e.Identity}, s.Options)
	if !ok {
		return nil
	}
	conn.KnownID = e.ID
	res, err := p.Remove(ctx, conn)
	switch {
	case errors.Is(err, cloud.ErrNotFound):
		// The identity itself is gone, and with it anything Keyless made on it.
		return nil
	case err != nil:
		return fmt.Errorf("removing the %s for %s: %w", cloudObject(c), e.Identity, err)
	case res.Action == cloud.Deleted:
		if _, ok := regarding.(*corev1.ServiceAccount); ok {
			r.event(ctx, corev1.EventTypeNormal, ReasonCloudDeleted, "%s for %s deleted: %s", cloudObject(c), e.Identity, res.ID)
		} else {
			s.Recorder.Eventf(regarding, nil, corev1.EventTypeNormal, ReasonCloudDeleted, "Delete",
				"%s for %s of %s/%s deleted: %s", cloudObject(c), e.Identity, subject.Namespace, subject.Name, res.ID)
		}
	}
	return nil
}

// finalize removes every recorded cloud object of s's clouds and their
// statuses, then the finalizer once no status of any cloud is left (with one
// syncer per cloud, the last one to finish removes it). It never blocks on
// an object that is already gone. A cloud that is no longer configured
// keeps its records (the sweep removes the objects once it is back) and
// does not hold the deletion.
func (s *CloudSyncer) finalize(ctx context.Context, sa *corev1.ServiceAccount, conns annotations.Connections) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(sa, annotations.Finalizer) {
		return reconcile.Result{}, nil
	}
	r, err := s.newRun(ctx, sa, conns)
	if err != nil {
		return reconcile.Result{}, err
	}
	if identity := identityOf(s.Cloud, conns); (r.before == nil || r.before.Identity == "") && identity != "" {
		// No record in the status (admitted without the webhook, and a
		// crash before the controller's own): what the annotation names,
		// found by listing.
		r.before = &Status{Identity: identity}
	}
	records, err := r.recorded(ctx)
	if err == nil {
		err = r.retireAll(ctx, records)
	}
	if err != nil {
		s.Recorder.Eventf(sa, nil, corev1.EventTypeWarning, ReasonCloudFailed, "Delete", "%s", err)
		return reconcile.Result{}, err
	}
	// This cloud is done: its status and its connection's annotations go,
	// so that the other clouds' syncers see it done. Its status alone is
	// not enough: a connection never synced has none.
	done := map[string]*string{}
	info := s.Cloud.Info()
	for _, k := range append([]string{info.StatusKey}, info.Keys...) {
		if _, ok := sa.Annotations[k]; ok {
			done[k] = nil
		}
	}
	if err := patchAnnotations(ctx, s.Client, sa, done); err != nil {
		return reconcile.Result{}, err
	}
	setConnectionState(sa, s.Cloud, nil)
	if len(statusesOf(nil, sa)) > 0 || connectedElsewhere(sa, s.Cloud) {
		return reconcile.Result{}, nil // another cloud's syncer has work left
	}
	return reconcile.Result{}, s.ensureFinalizer(ctx, sa, false)
}

// connectedElsewhere tells whether sa still carries the connection
// annotations of a cloud other than c, whose syncer has not finalized yet.
func connectedElsewhere(sa *corev1.ServiceAccount, c cloud.Name) bool {
	for _, cl := range annotations.Clouds {
		if cl.Name == string(c) {
			continue
		}
		for _, k := range cl.Keys {
			if _, ok := sa.Annotations[k]; ok {
				return true
			}
		}
	}
	return false
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
func (r *run) restartWorkloads(ctx context.Context) {
	s, sa := r.s, r.sa
	users := r.workloads(ctx)
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
func (r *run) event(ctx context.Context, kind, reason, format string, args ...any) {
	s, sa := r.s, r.sa
	s.Recorder.Eventf(sa, nil, kind, reason, "Sync", format, args...)
	for _, u := range r.workloads(ctx) {
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
	for _, cl := range annotations.Clouds {
		k := cl.StatusKey
		v, changed := changes[k]
		if (changed && v != nil) || (!changed && sa.Annotations[k] != "") {
			out = append(out, k)
		}
	}
	return out
}

func cloudTitle(c cloud.Name) string { return c.Info().Title }

func cloudObject(c cloud.Name) string { return c.Info().Object }

func actionWord(a cloud.Action) string {
	return map[cloud.Action]string{cloud.Created: "created", cloud.Updated: "updated", cloud.Adopted: "adopted",
		cloud.Unchanged: "in place", cloud.Deleted: "deleted", cloud.Absent: "absent"}[a]
}

func actionReason(a cloud.Action) string {
	return map[cloud.Action]string{cloud.Created: ReasonCloudCreated, cloud.Updated: ReasonCloudUpdated,
		cloud.Adopted: ReasonCloudAdopted}[a]
}
