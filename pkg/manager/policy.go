package manager

import (
	"context"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/policystore"
)

// newPolicyStore loads the policy and reports rejected versions, and a file
// that disappeared, as Events on the ConfigMap the file comes from.
func newPolicyStore(c config.Config, log logr.Logger, recorder events.EventRecorder) (*policystore.Store, error) {
	store, err := policystore.New(c.PolicyFile, c.PolicyReloadInterval, log.WithName("policy"))
	if err != nil {
		return nil, err
	}
	if ns, name, ok := strings.Cut(c.PolicyConfigMap, "/"); ok {
		ref := &corev1.ObjectReference{Kind: "ConfigMap", APIVersion: "v1", Namespace: ns, Name: name}
		store.OnReject = func(err error) {
			recorder.Eventf(ref, nil, corev1.EventTypeWarning, "PolicyRejected", "Reload",
				"the new policy is invalid and was not loaded; the last good policy stays in force: %v", err)
		}
		store.OnMissing = func() {
			recorder.Eventf(ref, nil, corev1.EventTypeWarning, "PolicyMissing", "Reload",
				"the policy file %s is gone (was its key renamed or removed from this ConfigMap?); the last good policy stays in force", c.PolicyFile)
		}
	}
	return store, nil
}

// auditEvents records audit-mode violations of admitted objects as Events.
func auditEvents(recorder events.EventRecorder) func(namespace, kind, name string, v policy.Violation) {
	return func(namespace, kind, name string, v policy.Violation) {
		ref := &corev1.ObjectReference{Kind: kind, Namespace: namespace, Name: name}
		recorder.Eventf(ref, nil, corev1.EventTypeWarning, "PolicyAudit", "Admit", "admitted despite policy (audit): %s", v.Message)
	}
}

// resyncAll queues every connected ServiceAccount on each of out after a
// policy change, so that the new policy takes effect at reconcile too.
func resyncAll(ctx context.Context, c client.Reader, out []chan event.GenericEvent) {
	list := &corev1.ServiceAccountList{}
	if err := c.List(ctx, list); err != nil {
		return
	}
	for i := range list.Items {
		sa := &list.Items[i]
		if !annotations.HasPrefixed(sa.Annotations) {
			continue
		}
		for _, ch := range out {
			select {
			case ch <- event.GenericEvent{Object: sa}:
			case <-ctx.Done():
				return
			}
		}
	}
}
