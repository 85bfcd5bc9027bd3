// Package uninstall takes Keyless out of a cluster without leaving anything
// stuck: it deletes the webhook configuration, so no admission depends on
// Keyless any more, then removes Keyless's finalizer from every
// ServiceAccount, so none waits for a controller that is gone. Cloud objects
// stay where they are.
package uninstall

import (
	"context"
	"fmt"
	"io"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// WebhookConfigurationName is the MutatingWebhookConfiguration of deploy/.
const WebhookConfigurationName = "keyless"

// Run uninstalls as the package doc says and reports each step to out.
func Run(ctx context.Context, c client.Client, out io.Writer) error {
	wh := &admissionregistrationv1.MutatingWebhookConfiguration{}
	wh.Name = WebhookConfigurationName
	switch err := c.Delete(ctx, wh); {
	case apierrors.IsNotFound(err):
		fmt.Fprintf(out, "MutatingWebhookConfiguration %s: already gone\n", wh.Name)
	case err != nil:
		return fmt.Errorf("deleting MutatingWebhookConfiguration %s: %w", wh.Name, err)
	default:
		fmt.Fprintf(out, "MutatingWebhookConfiguration %s: deleted\n", wh.Name)
	}

	removed := 0
	list := &corev1.ServiceAccountList{}
	for {
		if err := c.List(ctx, list, client.Limit(500), client.Continue(list.Continue)); err != nil {
			return fmt.Errorf("listing ServiceAccounts: %w", err)
		}
		for i := range list.Items {
			sa := &list.Items[i]
			if !controllerutil.ContainsFinalizer(sa, annotations.Finalizer) {
				continue
			}
			orig := sa.DeepCopy()
			controllerutil.RemoveFinalizer(sa, annotations.Finalizer)
			if err := c.Patch(ctx, sa, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("removing the finalizer of ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
			}
			removed++
			fmt.Fprintf(out, "ServiceAccount %s/%s: finalizer removed\n", sa.Namespace, sa.Name)
		}
		if list.Continue == "" {
			break
		}
	}
	fmt.Fprintf(out, "%d ServiceAccount finalizers removed; cloud objects were left in place. "+
		"Now delete the rest: kubectl delete -f deploy/install.yaml\n", removed)
	return nil
}
