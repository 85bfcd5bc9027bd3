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
func (h *Handler) conflicts(ctx context.Context, namespace, sa string, self workload.User,
	conns annotations.Connections) (field.ErrorList, error) {
	var errs field.ErrorList
	saAnnots, found, err := h.Lookup.ServiceAccountAnnotations(ctx, namespace, sa)
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
		if theirs, perrs := annotations.Parse(own, h.Options.Parse); len(perrs) == 0 {
			errs = append(errs, compare(conns, theirs, "ServiceAccount "+sa, "its own annotations")...)
		}
	}
	users, err := h.Lookup.Users(ctx, namespace, sa)
	if err != nil {
		return nil, err
	}
	var others []workload.User
	for _, u := range users {
		if u.Kind != self.Kind || u.Name != self.Name {
			others = append(others, u)
		}
	}
	return append(errs, conflictsWithUsers(conns, self, "ServiceAccount "+sa, others, h.Options.Parse)...), nil
}

func conflictsWithUsers(conns annotations.Connections, self workload.User, sa string, users []workload.User,
	opts annotations.Options) field.ErrorList {
	var errs field.ErrorList
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
func compare(mine, theirs annotations.Connections, sa, owner string) field.ErrorList {
	var errs field.ErrorList
	add := func(key, cloud, have string) {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations").Key(key), fmt.Sprintf(
			"%s is already connected to %s %q by %s, and a ServiceAccount has at most one %s; "+
				"use %q here too, or let the workloads run as different ServiceAccounts",
			sa, cloud, have, owner, cloud, have)))
	}
	if mine.AWS != nil && theirs.AWS != nil && !mine.AWS.Same(theirs.AWS) {
		add(annotations.KeyAWSRole, "AWS role", theirs.AWS.String())
	}
	if mine.Azure != nil && theirs.Azure != nil && !mine.Azure.Same(theirs.Azure) {
		add(annotations.KeyAzureIdentity, "Azure identity", theirs.Azure.String())
	}
	if mine.GCP != nil && theirs.GCP != nil && !mine.GCP.Same(theirs.GCP) {
		add(annotations.KeyGCPServiceAccount, "Google service account", theirs.GCP.String())
	}
	return errs
}
