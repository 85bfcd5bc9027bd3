package controller

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/policystore"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// StatePolicyViolation: the policy in force forbids the connection; nothing
// is written to the cloud for it.
const StatePolicyViolation = "PolicyViolation"

// ReasonPolicyViolation is the Event reason of a refused connection.
const ReasonPolicyViolation = "PolicyViolation"

// evaluatePolicy re-checks the policy before any cloud write: objects
// admitted while the webhook was down, made before Keyless was installed,
// or made illegal by a policy change are caught here.
func (s *CloudSyncer) evaluatePolicy(ctx context.Context, sa *corev1.ServiceAccount, conns annotations.Connections) ([]policy.Violation, error) {
	if s.Policy == nil || conns.Empty() {
		return nil, nil
	}
	p := s.Policy()
	if p == nil {
		return nil, nil
	}
	labels, err := workload.NamespaceLabels(ctx, s.Client, sa.Namespace)
	if err != nil {
		return nil, err
	}
	self := sa.Namespace + "/" + sa.Name
	var lookupErr error
	vs := p.Evaluate(policy.Input{
		Namespace: sa.Namespace, NamespaceLabels: labels, ServiceAccount: sa.Name,
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
			}
			return slices.DeleteFunc(got, func(b string) bool { return b == self })
		},
	})
	if lookupErr != nil {
		return nil, lookupErr
	}
	for _, v := range vs {
		policystore.RecordViolation(v, "reconcile")
	}
	return vs, nil
}

// enforcedFor returns the first enforce-mode violation that concerns cloud
// c of conns: one about that cloud's identity, or one about the namespace.
func enforcedFor(vs []policy.Violation, c cloud.Name, conns annotations.Connections) *policy.Violation {
	if _, ok := connectionFor(c, cloud.Subject{}, conns); !ok {
		return nil
	}
	for i, v := range vs {
		if v.Mode == policy.Enforce && (v.Cloud == string(c) || v.Cloud == "") {
			return &vs[i]
		}
	}
	return nil
}

// refuse records a policy violation instead of a cloud write. A binding
// that exists already is reported and no longer repaired, or removed when
// the policy says existingViolations: remove.
func (s *CloudSyncer) refuse(ctx context.Context, sa *corev1.ServiceAccount, c cloud.Name, subject cloud.Subject,
	conns annotations.Connections, before *Status, v *policy.Violation) (*Status, error) {
	st := &Status{State: StatePolicyViolation, Reason: v.Rule, Identity: identityOf(c, conns), LastSync: s.now(),
		Message: fmt.Sprintf("refused by policy: %s", v.Message)}
	if before != nil && before.ID != "" {
		st.ID, st.Identity = before.ID, before.Identity
		if s.Policy().ExistingViolations() == policy.Remove {
			if err := s.removeRecorded(ctx, sa, c, subject, conns.Retain, before, s.Providers[c]); err != nil {
				return st, err
			}
			st.ID = ""
			st.Message += "; the existing cloud object was removed (existingViolations: remove)"
		} else {
			st.Message += "; the existing cloud object is kept but no longer repaired (existingViolations: report)"
		}
	}
	if before == nil || before.State != StatePolicyViolation || before.Message != st.Message {
		s.event(ctx, sa, corev1.EventTypeWarning, ReasonPolicyViolation, "%s: %s", cloudTitle(c), st.Message)
	}
	return st, nil
}
