package mutation

import (
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// ServiceAccountOptions are the cluster-wide settings for ServiceAccount mutation.
type ServiceAccountOptions struct {
	// AzureTenantID, when set, is written as azure.workload.identity/tenant-id
	// on ServiceAccounts connected to Azure.
	AzureTenantID string
	// Finalizer, when set, is added to connected ServiceAccounts that lack
	// it and are not being deleted: the controller needs it before its
	// first cloud write, and adding it here saves the controller one write
	// to the API server per connection. It is never removed here: that
	// is the controller's, once the cloud objects are gone.
	Finalizer string
	// RecordPending, when set, writes annotations.PendingStatus for each
	// connection of a ServiceAccount (not being deleted) that has no status
	// annotation yet, so that the identity is on record before the
	// controller's first cloud write. The status is the controller's from
	// then on: the webhook never changes or removes one.
	RecordPending bool
}

// ForServiceAccount returns the patch that makes sa's cloud annotations match
// conns. Errors are user mistakes to deny.
func ForServiceAccount(sa *ServiceAccount, conns annotations.Connections, opts ServiceAccountOptions) (Patch, field.ErrorList) {
	annots := sa.Metadata.Annotations
	m := newMarks(annots)
	edit := newMapEdit("/metadata/annotations", annots)
	path := func(key string) func() *field.Path {
		return func() *field.Path { return field.NewPath("metadata", "annotations").Key(key) }
	}
	var errs field.ErrorList

	gcp := ""
	if conns.GCP != nil {
		gcp = conns.GCP.Email
	}
	errs = append(errs, ensure(edit, &m, annotations.GKEServiceAccount, gcp, conns.GCP != nil,
		annotations.InjectedGCPServiceAccount, path(annotations.GKEServiceAccount), annotations.KeyGCPServiceAccount)...)

	// Without an explicit client ID the controller looks it up and writes it;
	// the webhook then only keeps it while the Azure connection stays.
	azure := conns.Azure != nil
	switch {
	case azure && conns.Azure.ClientID != "":
		errs = append(errs, ensure(edit, &m, annotations.AzureClientIDAnnotation, conns.Azure.ClientID, true,
			annotations.InjectedAzureClientID, path(annotations.AzureClientIDAnnotation), annotations.KeyAzureClientID)...)
	case azure && m.had(annotations.InjectedAzureClientID):
		m.keep(annotations.InjectedAzureClientID)
	case !azure && m.had(annotations.InjectedAzureClientID):
		edit.Remove(annotations.AzureClientIDAnnotation)
	}
	if azure && opts.AzureTenantID != "" {
		errs = append(errs, ensure(edit, &m, annotations.AzureTenantIDAnnotation, opts.AzureTenantID, true,
			annotations.InjectedAzureTenantID, path(annotations.AzureTenantIDAnnotation), annotations.KeyAzureIdentity)...)
	} else if m.had(annotations.InjectedAzureTenantID) {
		if azure {
			m.keep(annotations.InjectedAzureTenantID)
		} else {
			edit.Remove(annotations.AzureTenantIDAnnotation)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if opts.RecordPending && sa.Metadata.DeletionTimestamp == nil {
		for _, cloud := range annotations.Clouds {
			key := cloud.StatusKey
			if _, recorded := annots[key]; !recorded {
				if id := cloud.Identity(conns); id != "" {
					edit.Set(key, annotations.PendingStatus(id))
				}
			}
		}
	}
	m.record(edit)
	fin := finalizerOp(sa.Metadata, conns, opts.Finalizer)
	var patch Patch
	if n := edit.ops() + len(fin); n > 0 {
		patch = make(Patch, 0, n)
	}
	return append(edit.Apply(patch), fin...), nil
}

// finalizerOp adds finalizer to a connected object that is not being
// deleted (the API server refuses new finalizers then) and lacks it.
func finalizerOp(meta ObjectMeta, conns annotations.Connections, finalizer string) []Operation {
	if finalizer == "" || conns.Empty() || meta.DeletionTimestamp != nil || slices.Contains(meta.Finalizers, finalizer) {
		return nil
	}
	if len(meta.Finalizers) == 0 {
		return []Operation{{Op: "add", Path: "/metadata/finalizers", Value: []string{finalizer}}}
	}
	return []Operation{{Op: "add", Path: "/metadata/finalizers/-", Value: finalizer}}
}
