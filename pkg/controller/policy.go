package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/policystore"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// StatePolicyViolation is the state of a connection that the policy in force
// forbids; nothing is written to the cloud for it.
const StatePolicyViolation = "PolicyViolation"

// ReasonPolicyViolation is the Event reason of a refused connection.
const ReasonPolicyViolation = "PolicyViolation"

// rules is what the policy in force says about one ServiceAccount, worked
// out once per reconcile.
type rules struct {
	p *policy.Policy // nil: no policy checks
	// in is the evaluation input, for checking recorded identities too.
	in         policy.Input
	violations []policy.Violation
	// retainAllowed: the namespace may keep objects with deletion-policy retain.
	retainAllowed bool
	existing      policy.ExistingViolations
}

// rulesFor re-checks the policy before any cloud write: objects admitted
// while the webhook was down, made before Keyless was installed, or made
// illegal by a policy change are caught here.
//
// A ServiceAccount's namespace exists, so one missing from the cache was
// created a moment ago and its event has not arrived: its labels are not
// "none", since a rule that selects namespaces by label would then not
// apply. Until it is cached, nothing is granted (errNamespaceNotCached,
// retried; the namespace's arrival also queues its ServiceAccounts).
// Removals do not wait for it: a deletion, or a ServiceAccount that no
// longer connects anything.
func (s *CloudSyncer) rulesFor(ctx context.Context, sa *corev1.ServiceAccount, conns annotations.Connections) (*rules, error) {
	grants := sa.DeletionTimestamp.IsZero() && !conns.Empty()
	return s.rulesIn(ctx, sa.Namespace, sa.Name, conns, true, grants)
}

// errNamespaceNotCached: see rulesFor.
var errNamespaceNotCached = errors.New("the namespace is not in the cache yet; nothing is granted until it is")

func (s *CloudSyncer) rulesIn(ctx context.Context, namespace, name string, conns annotations.Connections,
	count, needNamespace bool) (*rules, error) {
	r := &rules{retainAllowed: true, existing: policy.Report}
	if s.Policy == nil {
		return r, nil
	}
	if r.p = s.Policy(); r.p == nil {
		r.p = policy.Default()
	}
	labels, found, err := workload.NamespaceLabels(ctx, s.Client, namespace)
	if err != nil {
		return nil, err
	}
	if !found && needNamespace {
		return nil, fmt.Errorf("ServiceAccount %s/%s: %w", namespace, name, errNamespaceNotCached)
	}
	self := namespace + "/" + name
	var lookupErr error
	r.in = policy.Input{
		Namespace: namespace, NamespaceLabels: labels, ServiceAccount: name,
		Connections: conns, Cluster: s.Cluster,
		Namespaces: func(prefix string) []string {
			got, err := workload.Namespaces(ctx, s.Client, prefix)
			if err != nil {
				lookupErr = err
			}
			return got
		},
		OtherBindings: func(key string) []string {
			got, err := workload.Bindings(ctx, s.Client, key)
			if err != nil {
				lookupErr = err
				return nil
			}
			got = slices.DeleteFunc(got, func(b string) bool { return b == self })
			if got, err = workload.Standing(ctx, clientHolders{s.Client}, r.p, s.Options, s.Cluster, key, got); err != nil {
				lookupErr = err
			}
			return got
		},
	}
	r.retainAllowed = r.p.RetainAllowed(namespace, labels)
	r.existing = r.p.ExistingViolations()
	if !conns.Empty() {
		r.violations = r.p.Evaluate(r.in)
	}
	if lookupErr != nil {
		return nil, lookupErr
	}
	if count {
		for _, v := range r.violations {
			policystore.RecordViolation(v, "reconcile")
		}
	}
	return r, nil
}

// enforcedFor returns the first enforce-mode violation that concerns cloud
// c: one about that cloud's identity, or one about the namespace. A retain
// the policy does not allow refuses nothing here: the object is simply not
// kept when the connection goes away.
func (r *rules) enforcedFor(c cloud.Name) *policy.Violation {
	for i, v := range r.violations {
		if v.Mode == policy.Enforce && v.Rule != policy.RuleAllowRetain && (v.Cloud == string(c) || v.Cloud == "") {
			return &r.violations[i]
		}
	}
	return nil
}

// identityAllowed reports whether the policy allows the ServiceAccount to
// hold identity (as a status records it) on cloud c, for a retained object.
func (r *rules) identityAllowed(c cloud.Name, identity string) bool {
	if r.p == nil {
		return true
	}
	conn, ok := connectionFromStatus(c, cloud.Subject{}, &Status{Identity: identity}, annotations.Options{})
	if !ok {
		return false
	}
	in := r.in
	in.Connections = annotations.Connections{Settings: annotations.Settings{Retain: true}}
	switch {
	case conn.AWS != nil:
		in.Connections.AWS = &conn.AWS.Role
	case conn.Azure != nil:
		in.Connections.Azure = conn.Azure
	case conn.GCP != nil:
		in.Connections.GCP = conn.GCP
	}
	for _, v := range r.p.Evaluate(in) {
		if v.Mode == policy.Enforce && v.Rule != policy.RuleAllowRetain {
			return false
		}
	}
	return true
}

// refuse records a policy violation instead of a cloud write. An object
// made earlier for the identity is reported and no longer repaired, or
// removed when the policy says existingViolations: remove (or always, with
// remove set).
func (r *run) refuse(ctx context.Context, identity string, v *policy.Violation, remove bool) (*Status, error) {
	st := &Status{State: StatePolicyViolation, Reason: v.Rule, Identity: identity, LastSync: r.s.now(),
		Message: fmt.Sprintf("refused by policy: %s", v.Message)}
	if b := r.before; b != nil {
		st.Served, st.Adopted = servedBy(b), b.Adopted
	}
	records, err := r.recorded(ctx)
	if err != nil {
		return r.failed(identity, err), err
	}
	kept := 0
	for _, e := range records {
		if e.Identity != identity && r.c.Info().ObjectOnIdentity {
			continue // retired by sync before it asked the policy
		}
		if remove || r.rules.existing == policy.Remove {
			if err := r.retire(ctx, e, false); err != nil {
				return st, err
			}
			continue
		}
		kept++
		if e.Identity == identity {
			st.ID = e.ID
		}
	}
	switch {
	case kept > 0:
		st.Message += "; the existing cloud object is kept but no longer repaired (existingViolations: report)"
	case len(records) > 0:
		st.Message += "; the existing cloud object was removed"
	}
	if r.before == nil || r.before.State != StatePolicyViolation || r.before.Message != st.Message {
		r.event(ctx, corev1.EventTypeWarning, ReasonPolicyViolation, "%s: %s", cloudTitle(r.c), st.Message)
	}
	return st, nil
}

// clientHolders reads the holders of an identity (workload.Standing)
// through the controller's client.
type clientHolders struct{ r client.Reader }

func (h clientHolders) ServiceAccountAnnotations(ctx context.Context, namespace, name string) (map[string]string, bool, error) {
	sa := &corev1.ServiceAccount{}
	if err := h.r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, sa); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return sa.Annotations, true, nil
}

func (h clientHolders) NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error) {
	labels, _, err := workload.NamespaceLabels(ctx, h.r, namespace)
	return labels, err
}

func (h clientHolders) Namespaces(ctx context.Context, prefix string) ([]string, error) {
	return workload.Namespaces(ctx, h.r, prefix)
}
