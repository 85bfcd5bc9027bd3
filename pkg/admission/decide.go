package admission

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/mutation"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// Rules of the denials that do not come from the policy.
const (
	// RuleAnnotations: invalid keyless.dev annotations.
	RuleAnnotations = "annotations"
	// RuleMutation: the webhook cannot make the object match its
	// connections (a user value in the way, no pod template, "default").
	RuleMutation = "mutation"
	// RuleConflict: a ServiceAccount would be connected to two identities
	// of one cloud.
	RuleConflict = "conflict"
)

// Input is one object under admission, decoded as far as Keyless reads it.
type Input struct {
	// Operation is CREATE or UPDATE; anything else is allowed unseen.
	Operation string
	Group     string
	Kind      string
	Namespace string
	// Object is the object; of a ServiceAccount only its metadata is read.
	Object *mutation.Workload
	// OldObject is the object before an UPDATE, as sent; it is decoded
	// only when needed. When it is missing or does not decode, the update
	// is judged as a creation, which is stricter.
	OldObject json.RawMessage

	before        *mutation.Workload
	beforeDecoded bool
}

func (in *Input) old() *mutation.Workload {
	if !in.beforeDecoded {
		in.beforeDecoded = true
		if in.Operation == "UPDATE" && len(in.OldObject) > 0 {
			var old mutation.Workload
			if DecodeObject(in.OldObject, &old) == nil {
				in.before = &old
			}
		}
	}
	return in.before
}

// Decision is the webhook's verdict on one object.
type Decision struct {
	// Patch makes the object match its connections.
	Patch mutation.Patch
	// ServiceAccount is, for a workload, the ServiceAccount its pods run
	// as once admitted ("" for none); for a ServiceAccount, its name.
	ServiceAccount string
	// Denials are the problems that deny the object, other than the
	// policy's. Checks stop at the first stage that finds any: the
	// annotations, the mutation, the conflicts, then the policy.
	Denials []Denial
	// Violations are the policy's verdict on the object's new or changed
	// connections, in every mode; enforce-mode ones deny the object.
	Violations []policy.Violation
}

// Denial is one problem that denies an object.
type Denial struct {
	// Rule is RuleAnnotations, RuleMutation or RuleConflict.
	Rule string
	// Cloud names the cloud the problem is about, when it is one cloud's.
	Cloud string
	Err   *field.Error
}

func (d *Decision) deny(rule string, errs field.ErrorList) {
	for _, e := range errs {
		d.Denials = append(d.Denials, Denial{Rule: rule, Err: e})
	}
}

// Decider decides admissions from cluster state read through Lookup. It
// makes no write and no cloud call; the webhook and `keyless check` both
// decide through it.
type Decider struct {
	Options Options
	Lookup  Lookup
	// Policy is the policy in force; nil means no policy checks.
	Policy *policy.Policy
}

// Decide decides one object. Errors are failures to read cluster state.
func (d *Decider) Decide(ctx context.Context, in *Input) (Decision, error) {
	var dec Decision
	if in.Operation != "CREATE" && in.Operation != "UPDATE" || in.Object == nil {
		return dec, nil
	}
	var err error
	switch {
	case in.Group == "" && in.Kind == "ServiceAccount":
		err = d.serviceAccount(ctx, in, &dec)
	case IsWorkload(in.Group, in.Kind):
		err = d.workload(ctx, in, &dec)
	}
	return dec, err
}

// IsWorkload reports whether group/kind is a workload kind Keyless connects.
func IsWorkload(group, kind string) bool {
	if group != "apps" && group != "batch" {
		return false
	}
	return slices.ContainsFunc(workload.Kinds, func(k workload.Kind) bool {
		return k.Name == kind && k.Group == group
	})
}

func (d *Decider) workload(ctx context.Context, in *Input, dec *Decision) error {
	obj := in.Object
	conns, errs := annotations.Parse(obj.Metadata.Annotations, d.Options.Parse)
	if len(errs) > 0 {
		dec.deny(RuleAnnotations, tolerated(in, obj.Metadata, errs))
		return nil
	}
	opts := d.Options.Workload
	opts.TemplateImmutable = in.Kind == "Job" && in.Operation == "UPDATE"
	if old := in.old(); old != nil {
		if t, _ := old.PodTemplate(); t != nil {
			opts.RestartedAt = t.Metadata.Annotations[annotations.KeyRestartedAt]
		}
	}
	patch, sa, errs := mutation.ForWorkload(obj, conns, opts)
	dec.Patch, dec.ServiceAccount = patch, sa
	if len(errs) > 0 {
		dec.deny(RuleMutation, errs)
		return nil
	}
	if !conns.Empty() {
		self := workload.User{Kind: in.Kind, Name: obj.Name()}
		cs, err := d.conflicts(ctx, in.Namespace, sa, self, conns)
		if err != nil || len(cs) > 0 {
			dec.Denials = cs
			return err
		}
	}
	return d.checkPolicy(ctx, in, sa, in.Kind+"/"+obj.Name(), conns, dec)
}

// defaultServiceAccount is the denial of connections on a namespace's
// "default" ServiceAccount.
const defaultServiceAccount = "Keyless does not connect a namespace's \"default\" ServiceAccount: every pod that " +
	"names no ServiceAccount runs as it, so its identity would go to all of them; put the keyless.dev " +
	"annotations on the workload instead (Keyless then gives it a ServiceAccount of its own), " +
	"or on a ServiceAccount made for the workload"

func (d *Decider) serviceAccount(ctx context.Context, in *Input, dec *Decision) error {
	obj := mutation.ServiceAccount{Metadata: in.Object.Metadata}
	dec.ServiceAccount = obj.Metadata.Name
	conns, errs := annotations.Parse(obj.Metadata.Annotations, d.Options.Parse)
	if len(errs) > 0 {
		dec.deny(RuleAnnotations, tolerated(in, obj.Metadata, errs))
		return nil
	}
	if obj.Metadata.Name == "default" && !d.newConnections(in, "", conns).Empty() {
		dec.deny(RuleMutation, field.ErrorList{field.Forbidden(field.NewPath("metadata", "annotations"), defaultServiceAccount)})
		return nil
	}
	patch, errs := mutation.ForServiceAccount(&obj, conns, d.Options.ServiceAccount)
	dec.Patch = patch
	if len(errs) > 0 || conns.Empty() {
		dec.deny(RuleMutation, errs)
		return nil
	}
	users, err := d.Lookup.Users(ctx, in.Namespace, obj.Metadata.Name)
	if err != nil {
		return err
	}
	if cs := conflictsWithUsers(conns, workload.User{Kind: "ServiceAccount", Name: obj.Metadata.Name},
		"this ServiceAccount", users, d.Options.Parse); len(cs) > 0 {
		dec.Denials = cs
		return nil
	}
	return d.checkPolicy(ctx, in, obj.Metadata.Name, "", conns, dec)
}

// tolerated returns the annotation errors of an object that must be denied
// for them: none for an UPDATE of an object being deleted, or one that
// leaves the keyless.dev annotations as they were. Such updates are
// Keyless's own finalizer and status writes, or edits unrelated to Keyless,
// and refusing them after a configuration change (a default resource group
// removed, say) would leave ServiceAccounts and namespaces stuck in deletion.
func tolerated(in *Input, meta mutation.ObjectMeta, errs field.ErrorList) field.ErrorList {
	if in.Operation != "UPDATE" {
		return errs
	}
	if meta.DeletionTimestamp != nil {
		return nil
	}
	if old := in.old(); old != nil && sameKeylessAnnotations(old.Metadata.Annotations, meta.Annotations) {
		return nil
	}
	return errs
}

// sameKeylessAnnotations compares the keyless.dev/ keys of a and b.
func sameKeylessAnnotations(a, b map[string]string) bool {
	for k, v := range a {
		if strings.HasPrefix(k, annotations.Prefix) {
			if w, ok := b[k]; !ok || w != v {
				return false
			}
		}
	}
	for k := range b {
		if _, ok := a[k]; strings.HasPrefix(k, annotations.Prefix) && !ok {
			return false
		}
	}
	return true
}

// ranAs is the ServiceAccount the pods of the old workload ran as, the one
// Keyless gives a connected workload instead of "default" included.
func ranAs(old *mutation.Workload, t *mutation.PodTemplate) string {
	if sa := t.ServiceAccountName(); sa != "" && sa != "default" {
		return sa
	}
	return old.Name()
}

// newConnections keeps the connections of conns that an UPDATE adds or
// changes (all of them on a CREATE, or when the old object is unreadable).
//
// sa is the ServiceAccount the pods run as once admitted (for a workload;
// "" for a ServiceAccount): when an update changes it, every connection is
// new to the ServiceAccount that gets it.
func (d *Decider) newConnections(in *Input, sa string, conns annotations.Connections) annotations.Connections {
	if old := in.old(); old != nil {
		if t, _ := old.PodTemplate(); t != nil && sa != "" && ranAs(old, t) != sa {
			return conns
		}
		before, _ := annotations.Parse(old.Metadata.Annotations, d.Options.Parse)
		return onlyChanged(conns, before)
	}
	return conns
}
