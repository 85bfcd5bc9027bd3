package admission

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// conflicts denies a workload whose ServiceAccount is already connected to a
// different identity of the same cloud, by its own annotations or through
// another workload.
func (d *Decider) conflicts(ctx context.Context, namespace, sa string, self workload.User,
	conns annotations.Connections) ([]Denial, error) {
	var errs []Denial
	saAnnots, found, err := d.Lookup.ServiceAccountAnnotations(ctx, namespace, sa)
	if err != nil {
		return nil, err
	}
	if found {
		// Keys the controller copied from workloads are checked through those
		// workloads below; only what the ServiceAccount's owner wrote counts here.
		own := map[string]string{}
		propagated := map[string]bool{}
		for _, k := range annotations.ParseList(saAnnots[annotations.KeyPropagated]) {
			propagated[annotations.Prefix+k] = true
		}
		for _, k := range annotations.UserKeys() {
			if v, ok := saAnnots[k]; ok && !propagated[k] {
				own[k] = v
			}
		}
		if theirs, perrs := annotations.Parse(own, d.Options.Parse); len(perrs) == 0 {
			errs = append(errs, compare(conns, theirs, "ServiceAccount "+sa, "its own annotations")...)
		}
	}
	users, err := d.Lookup.Users(ctx, namespace, sa)
	if err != nil {
		return nil, err
	}
	var others []workload.User
	for _, u := range users {
		if u.Kind != self.Kind || u.Name != self.Name {
			others = append(others, u)
		}
	}
	return append(errs, conflictsWithUsers(conns, self, "ServiceAccount "+sa, others, d.Options.Parse)...), nil
}

func conflictsWithUsers(conns annotations.Connections, self workload.User, sa string, users []workload.User,
	opts annotations.Options) []Denial {
	var errs []Denial
	for _, u := range users {
		if u.Kind == self.Kind && u.Name == self.Name {
			continue
		}
		theirs, perrs := annotations.Parse(u.Annotations, opts)
		if len(perrs) > 0 {
			continue
		}
		errs = append(errs, compare(conns, theirs, sa, u.String())...)
	}
	return errs
}

// compare reports, per cloud, a different identity in theirs.
func compare(mine, theirs annotations.Connections, sa, owner string) []Denial {
	var errs []Denial
	add := func(cloud, key, what, have string) {
		errs = append(errs, Denial{Rule: RuleConflict, Cloud: cloud, Err: field.Forbidden(
			field.NewPath("metadata", "annotations").Key(key), fmt.Sprintf(
				"%s is already connected to %s %q by %s, and a ServiceAccount has at most one %s; "+
					"use %q here too, or let the workloads run as different ServiceAccounts",
				sa, what, have, owner, what, have))})
	}
	for _, cl := range annotations.Clouds {
		if cl.Has(mine) && cl.Has(theirs) && !cl.SameIdentity(mine, theirs) {
			add(cl.Name, cl.Key, cl.IdentityNoun, cl.Identity(theirs))
		}
	}
	return errs
}
