// Package uninstall takes Keyless out of a cluster without leaving anything
// stuck. In order:
//
//  1. it scales Keyless's Deployment to zero and waits until its pods are
//     gone, so that no controller adds its finalizer back;
//  2. it deletes the webhook configuration, so no admission depends on
//     Keyless any more;
//  3. it deletes the ValidatingAdmissionPolicy (and binding) that keeps
//     anyone but Keyless from removing its finalizer;
//  4. it removes Keyless's finalizer from every ServiceAccount, so none
//     (and no namespace) waits for a controller that is gone.
//
// Cloud objects stay where they are.
package uninstall

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Names of the objects of deploy/ that uninstall acts on.
const (
	// WebhookConfigurationName is the MutatingWebhookConfiguration.
	WebhookConfigurationName = "keyless"
	// Namespace and DeploymentName name the Deployment that runs Keyless.
	Namespace      = "keyless-system"
	DeploymentName = "keyless"
	// FinalizerPolicyName names the ValidatingAdmissionPolicy, and its
	// binding, that let only Keyless remove its finalizer.
	FinalizerPolicyName = "keyless-finalizer"
)

// Options are what Run does differently from RunWithOptions's defaults.
type Options struct {
	// Namespace and Deployment name Keyless's Deployment.
	Namespace, Deployment string
	// StopTimeout bounds the wait for Keyless's pods to be gone; Poll is
	// how often they are listed meanwhile.
	StopTimeout, Poll time.Duration
}

// DefaultOptions act on the objects deploy/install.yaml creates.
func DefaultOptions() Options {
	return Options{Namespace: Namespace, Deployment: DeploymentName, StopTimeout: 2 * time.Minute, Poll: time.Second}
}

// Run uninstalls as the package doc says, with DefaultOptions, and reports
// each step to out.
func Run(ctx context.Context, c client.Client, out io.Writer) error {
	return RunWithOptions(ctx, c, out, DefaultOptions())
}

// RunWithOptions uninstalls as the package doc says and reports each step
// to out. It stops at the first step that fails, so that finalizers are
// never removed while Keyless may still add them back.
func RunWithOptions(ctx context.Context, c client.Client, out io.Writer, o Options) error {
	if err := stop(ctx, c, out, o); err != nil {
		return err
	}
	wh := &admissionregistrationv1.MutatingWebhookConfiguration{}
	wh.Name = WebhookConfigurationName
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	binding.Name = FinalizerPolicyName
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	policy.Name = FinalizerPolicyName
	for _, o := range []client.Object{wh, binding, policy} {
		if err := remove(ctx, c, out, o); err != nil {
			return err
		}
	}
	removed, err := removeFinalizers(ctx, c, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d ServiceAccount finalizers removed; cloud objects were left in place. "+
		"Now delete the rest: kubectl delete -f deploy/install.yaml\n", removed)
	return nil
}

// stop scales Keyless's Deployment to zero and waits, up to o.StopTimeout,
// until none of its pods is left, terminating ones included.
func stop(ctx context.Context, c client.Client, out io.Writer, o Options) error {
	name := o.Namespace + "/" + o.Deployment
	d := &appsv1.Deployment{}
	switch err := c.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: o.Deployment}, d); {
	case apierrors.IsNotFound(err):
		fmt.Fprintf(out, "Deployment %s: not found, nothing to stop\n", name)
		return nil
	case err != nil:
		return fmt.Errorf("reading Deployment %s: %w", name, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("the pod selector of Deployment %s is unusable (%w); stop Keyless by hand before running uninstall again", name, err)
	}
	if selector.Empty() {
		return fmt.Errorf("the pod selector of Deployment %s is empty; stop Keyless by hand before running uninstall again", name)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":0}}`))
		if err := c.Patch(ctx, d, patch); err != nil {
			return fmt.Errorf("scaling Deployment %s to 0 replicas: %w", name, err)
		}
		fmt.Fprintf(out, "Deployment %s: scaled to 0 replicas\n", name)
	}

	deadline := time.Now().Add(o.StopTimeout)
	for {
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(o.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
			return fmt.Errorf("listing the pods of Deployment %s: %w", name, err)
		}
		if len(pods.Items) == 0 {
			fmt.Fprintf(out, "Deployment %s: no pods left\n", name)
			return nil
		}
		if !time.Now().Before(deadline) {
			names := make([]string, 0, len(pods.Items))
			for _, p := range pods.Items {
				names = append(names, p.Name)
			}
			slices.Sort(names)
			return fmt.Errorf("the pods of Keyless are still there %s after scaling Deployment %s to 0 (%s); "+
				"nothing else was changed, since a running Keyless would add its finalizers back. "+
				"Check them with `kubectl -n %s get pods -l %s` and run uninstall again once they are gone",
				o.StopTimeout, name, strings.Join(names, ", "), o.Namespace, selector)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the pods of Deployment %s to be gone: %w", name, ctx.Err())
		case <-time.After(o.Poll):
		}
	}
}

// remove deletes one cluster-scoped object, if it is there.
func remove(ctx context.Context, c client.Client, out io.Writer, o client.Object) error {
	kind := strings.TrimPrefix(fmt.Sprintf("%T", o), "*v1.")
	switch err := c.Delete(ctx, o); {
	case apierrors.IsNotFound(err):
		fmt.Fprintf(out, "%s %s: already gone\n", kind, o.GetName())
	case err != nil:
		return fmt.Errorf("deleting %s %s: %w", kind, o.GetName(), err)
	default:
		fmt.Fprintf(out, "%s %s: deleted\n", kind, o.GetName())
	}
	return nil
}

// removeFinalizers removes Keyless's finalizer from every ServiceAccount
// that has it and returns how many it changed.
func removeFinalizers(ctx context.Context, c client.Client, out io.Writer) (int, error) {
	removed := 0
	list := &corev1.ServiceAccountList{}
	for {
		if err := c.List(ctx, list, client.Limit(500), client.Continue(list.Continue)); err != nil {
			return removed, fmt.Errorf("listing ServiceAccounts: %w", err)
		}
		for i := range list.Items {
			sa := &list.Items[i]
			if !controllerutil.ContainsFinalizer(sa, annotations.Finalizer) {
				continue
			}
			if err := removeFinalizer(ctx, c, sa); err != nil && !apierrors.IsNotFound(err) {
				return removed, fmt.Errorf("removing the finalizer of ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
			}
			removed++
			fmt.Fprintf(out, "ServiceAccount %s/%s: finalizer removed\n", sa.Namespace, sa.Name)
		}
		if list.Continue == "" {
			return removed, nil
		}
	}
}

// removeFinalizer removes Keyless's finalizer from sa. The patch carries
// the whole finalizer list, so it is sent with sa's resourceVersion, and
// read again and retried when another writer changed sa meanwhile.
func removeFinalizer(ctx context.Context, c client.Client, sa *corev1.ServiceAccount) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		orig := sa.DeepCopy()
		controllerutil.RemoveFinalizer(sa, annotations.Finalizer)
		err := c.Patch(ctx, sa, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
		if apierrors.IsConflict(err) {
			if gerr := c.Get(ctx, client.ObjectKeyFromObject(sa), sa); gerr != nil {
				return gerr
			}
		}
		return err
	})
}
