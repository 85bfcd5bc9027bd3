package admission

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/policystore"
)

// checkPolicy evaluates the policy in force: enforce-mode violations deny,
// warn-mode ones are appended to warnings, audit-mode ones are reported
// through Audit. workloadRef is "Kind/name", or "" for a ServiceAccount.
func (h *Handler) checkPolicy(ctx context.Context, req *request, sa, workloadRef string,
	conns annotations.Connections, warnings *[]string) (field.ErrorList, error) {
	if h.Policy == nil {
		return nil, nil
	}
	p := h.Policy()
	if p == nil || (conns.Empty() && workloadRef == "") {
		return nil, nil
	}
	// Only new or changed connections are judged here: existing ones are
	// the controller's to report, and an update that leaves them alone (a
	// status write, an unrelated edit) must not be refused. Workload-level
	// rules (requireConnection) hold on every admission of a workload: an
	// update that removes its last connection is judged like a create.
	changed := h.newConnections(req, conns)
	if changed.Empty() && !conns.Empty() {
		return nil, nil
	}
	conns = changed
	labels, err := h.Lookup.NamespaceLabels(ctx, req.Namespace)
	if err != nil {
		return nil, err
	}
	var lookupErr error
	vs := p.Evaluate(policy.Input{
		Namespace: req.Namespace, NamespaceLabels: labels, ServiceAccount: sa, Workload: workloadRef,
		Connections: conns, Cluster: h.Options.Cluster,
		Namespaces: func(prefix string) []string {
			got, err := h.Lookup.Namespaces(ctx, prefix)
			if err != nil {
				lookupErr = err
			}
			return got
		},
		OtherBindings: func(key string) []string {
			got, err := h.Lookup.Bindings(ctx, key)
			if err != nil {
				lookupErr = err
			}
			self := req.Namespace + "/" + sa
			return slices.DeleteFunc(got, func(s string) bool { return s == self })
		},
	})
	if lookupErr != nil {
		return nil, lookupErr
	}
	var errs field.ErrorList
	for _, v := range vs {
		policystore.RecordViolation(v, "admission")
		switch v.Mode {
		case policy.Enforce:
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations"), "policy "+v.Message))
		case policy.Warn:
			*warnings = append(*warnings, fmt.Sprintf("keyless policy (warn): %s", v.Message))
		case policy.Audit:
			if h.Audit != nil && !req.dryRun() {
				h.Audit(req.Namespace, req.Kind.Kind, req.Name, v)
			}
		}
	}
	return errs, nil
}

// onlyChanged keeps the connections of now that before did not have, and
// all of them when the update asks to retain them: whether the namespace
// may keep objects beyond its connections is the policy's to judge.
func onlyChanged(now, before annotations.Connections) annotations.Connections {
	if now.Retain && !before.Retain {
		return now
	}
	if now.AWS.Same(before.AWS) && now.AWSTargetRole.Same(before.AWSTargetRole) {
		now.AWS, now.AWSTargetRole = nil, nil
	}
	if now.Azure.Same(before.Azure) {
		now.Azure = nil
	}
	if now.GCP.Same(before.GCP) {
		now.GCP = nil
	}
	return now
}
