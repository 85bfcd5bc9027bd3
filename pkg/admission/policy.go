package admission

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/policystore"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// checkPolicy evaluates the policy on the object's new or changed
// connections into dec.Violations. workloadRef is "Kind/name", or "" for a
// ServiceAccount.
func (d *Decider) checkPolicy(ctx context.Context, in *Input, sa, workloadRef string,
	conns annotations.Connections, dec *Decision) error {
	p := d.Policy
	if p == nil || (conns.Empty() && workloadRef == "") {
		return nil
	}
	// Only new or changed connections are judged here: existing ones are
	// the controller's to report, and an update that leaves them alone (a
	// status write, an unrelated edit) must not be refused. Workload-level
	// rules (requireConnection) hold on every admission of a workload: an
	// update that removes its last connection is judged like a create.
	changed := d.newConnections(in, workloadSA(workloadRef, sa), conns)
	if changed.Empty() && !conns.Empty() {
		return nil
	}
	labels, err := d.Lookup.NamespaceLabels(ctx, in.Namespace)
	if err != nil {
		return err
	}
	var lookupErr error
	lookup := d.Lookup // the closures capture it, not d: d stays on the stack
	vs := p.Evaluate(policy.Input{
		Namespace: in.Namespace, NamespaceLabels: labels, ServiceAccount: sa, Workload: workloadRef,
		Connections: changed, Cluster: d.Options.Cluster,
		Namespaces: func(prefix string) []string {
			got, err := lookup.Namespaces(ctx, prefix)
			if err != nil {
				lookupErr = err
			}
			return got
		},
		OtherBindings: func(key string) []string {
			got, err := lookup.Bindings(ctx, key)
			if err != nil {
				lookupErr = err
				return nil
			}
			self := in.Namespace + "/" + sa
			got = slices.DeleteFunc(got, func(s string) bool { return s == self })
			if got, err = workload.Standing(ctx, lookup, p, d.Options.Parse, d.Options.Cluster, key, got); err != nil {
				lookupErr = err
			}
			return got
		},
	})
	if lookupErr != nil {
		return lookupErr
	}
	dec.Violations = vs
	return nil
}

// verdict turns the policy's violations into the webhook's answer:
// enforce-mode ones deny, warn-mode ones become warnings, audit-mode ones
// go to Audit (not for dry runs).
func (h *Handler) verdict(req *request, vs []policy.Violation, warnings *[]string) field.ErrorList {
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
	return errs
}

// onlyChanged keeps the connections of now that before did not have, and
// all of them when the update asks to retain them: whether the namespace
// may keep objects beyond its connections is the policy's to judge.
func onlyChanged(now, before annotations.Connections) annotations.Connections {
	if now.Retain && !before.Retain {
		return now
	}
	for _, cl := range annotations.Clouds {
		if cl.Same(now, before) {
			cl.Clear(&now)
		}
	}
	return now
}

// workloadSA is sa for a workload (workloadRef set), "" for a
// ServiceAccount, whose name an update cannot change.
func workloadSA(workloadRef, sa string) string {
	if workloadRef == "" {
		return ""
	}
	return sa
}
