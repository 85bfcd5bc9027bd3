package e2e

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/uninstall"
)

// TestUninstallLeavesNothingStuck runs the uninstall while Keyless runs and
// holds a connected ServiceAccount with its finalizer, then, as `kubectl
// delete -f install.yaml` would, takes Keyless away for good. The uninstall
// must stop Keyless before it removes the finalizer (a running Keyless adds
// it back at its next resync, and the ServiceAccount then waits for ever
// for a controller that is gone), and delete the webhook configuration and
// the admission policy that guards the finalizer.
func TestUninstallLeavesNothingStuck(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	seed(t, annotations.KeyGCPServiceAccount, gcpEmail)
	sa := serviceAccount(ns, "held", func(o client.Object) {
		controllerutil.AddFinalizer(o, annotations.Finalizer)
	}, annotated(annotations.KeyGCPServiceAccount, gcpEmail))
	create(t, sa)
	serviceAccountEventually(t, ns, "held", stateIs(annotations.KeyStatusGCP, "Ready"))

	// What the install made, as far as the uninstall acts on it: Keyless's
	// Deployment and pod (played by the manager of this test process), and
	// the policy that guards the finalizer.
	labels := map[string]string{"app.kubernetes.io/name": "keyless"}
	installed := installKeylessObjects(t, labels)
	kubelet := playKubelet(t, labels)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stopped = kubelet()
		}
		for _, o := range installed {
			_ = k8s.Delete(ctx, o)
		}
		if err := reinstallWebhook(); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Errorf("re-installing the webhook: %v", err)
		}
		if !stopped {
			if err := env.StopKeyless(); err != nil {
				t.Errorf("stopping keyless: %v", err)
			}
		}
		if err := env.StartKeyless(context.Background()); err != nil {
			t.Fatalf("restarting keyless: %v", err)
		}
	})

	o := uninstall.DefaultOptions()
	o.StopTimeout, o.Poll = 30*time.Second, 100*time.Millisecond
	var out bytes.Buffer
	err := uninstall.RunWithOptions(ctx, k8s, &out, o)
	if err != nil {
		t.Fatalf("uninstall: %v\n%s", err, &out)
	}
	for _, want := range []string{
		"Deployment keyless-system/keyless: scaled to 0 replicas",
		"Deployment keyless-system/keyless: no pods left",
		"MutatingWebhookConfiguration keyless: deleted",
		"ValidatingAdmissionPolicyBinding " + uninstall.FinalizerPolicyName + ": deleted",
		"ValidatingAdmissionPolicy " + uninstall.FinalizerPolicyName + ": deleted",
		"ServiceAccount " + ns + "/held: finalizer removed",
	} {
		if !slices.Contains(strings.Split(out.String(), "\n"), want) {
			t.Errorf("uninstall output lacks %q:\n%s", want, &out)
		}
	}

	// kubectl delete -f install.yaml: Keyless is gone for good.
	if stopped = kubelet(); !stopped {
		t.Error("the uninstall did not scale Keyless's Deployment to zero")
		time.Sleep(5 * time.Second) // a few resyncs of the Keyless still running
		if err := env.StopKeyless(); err != nil {
			t.Fatalf("stopping keyless: %v", err)
		}
		stopped = true
	}
	for _, o := range []client.Object{&admissionregistrationv1.ValidatingAdmissionPolicyBinding{}, &admissionregistrationv1.ValidatingAdmissionPolicy{}} {
		if err := k8s.Get(ctx, client.ObjectKey{Name: uninstall.FinalizerPolicyName}, o); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s: Get error = %v, want it deleted by the uninstall", o, uninstall.FinalizerPolicyName, err)
		}
	}

	// With the webhook configuration gone, annotated objects are admitted
	// without Keyless.
	if err := k8s.Create(ctx, deployment(ns, "after", annotated(annotations.KeyAWSRole, "orders"))); err != nil {
		t.Errorf("an annotated Deployment was refused after uninstall: %v", err)
	}
	if err := k8s.Delete(ctx, sa); err != nil {
		t.Fatalf("deleting the ServiceAccount: %v", err)
	}
	eventually(t, 10*time.Second, func() error {
		got := &corev1.ServiceAccount{}
		err := k8s.Get(ctx, client.ObjectKeyFromObject(sa), got)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return errors.New("the ServiceAccount is still there, with finalizers " + strings.Join(got.Finalizers, ", "))
	})
}

// installKeylessObjects creates Keyless's Deployment and one of its pods in
// keyless-system, and the policy (with its binding) that guards the
// finalizer.
func installKeylessObjects(t *testing.T, labels map[string]string) []client.Object {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: uninstall.Namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tmpl := podSpec()
	tmpl.Labels = labels
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: uninstall.Namespace, Name: uninstall.DeploymentName},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: uninstall.Namespace, Name: "keyless-0", Labels: labels}, Spec: tmpl.Spec}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: uninstall.FinalizerPolicyName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"serviceaccounts"}},
				}}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "true"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: uninstall.FinalizerPolicyName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: uninstall.FinalizerPolicyName,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}},
	}
	objs := []client.Object{d, pod, policy, binding}
	for _, o := range objs {
		create(t, o)
	}
	return objs
}

// playKubelet plays the Deployment controller and the kubelet for Keyless's
// Deployment: once it is scaled to zero, it stops the Keyless of this test
// process and deletes the pods. The function it returns stops watching and
// reports whether that happened.
func playKubelet(t *testing.T, labels map[string]string) func() bool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool, 1)
	go func() {
		for ctx.Err() == nil {
			d := &appsv1.Deployment{}
			err := k8s.Get(ctx, client.ObjectKey{Namespace: uninstall.Namespace, Name: uninstall.DeploymentName}, d)
			if err == nil && d.Spec.Replicas != nil && *d.Spec.Replicas == 0 {
				if err := env.StopKeyless(); err != nil {
					t.Errorf("stopping keyless: %v", err)
				}
				if err := k8s.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(uninstall.Namespace),
					client.MatchingLabels(labels), client.GracePeriodSeconds(0)); err != nil {
					t.Errorf("deleting Keyless's pods: %v", err)
				}
				done <- true
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		done <- false
	}()
	return func() bool {
		cancel()
		return <-done
	}
}

// reinstallWebhook puts back the configuration envtest installed (URL and CA
// of the local webhook server).
func reinstallWebhook() error {
	var cp *admissionregistrationv1.MutatingWebhookConfiguration
	for _, wh := range env.Env.WebhookInstallOptions.MutatingWebhooks {
		if wh.Name == uninstall.WebhookConfigurationName {
			cp = wh.DeepCopy()
		}
	}
	if cp == nil {
		return errors.New("envtest installed no keyless webhook configuration")
	}
	cp.ResourceVersion, cp.UID, cp.CreationTimestamp = "", "", metav1.Time{}
	return k8s.Create(context.Background(), cp)
}
