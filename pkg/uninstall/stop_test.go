package uninstall

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

var keylessLabels = map[string]string{"app.kubernetes.io/name": "keyless"}

func keylessDeployment(replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: DeploymentName},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: keylessLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: keylessLabels}}},
	}
}

func pod(namespace, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels}}
}

func admissionPolicy(name string) *admissionregistrationv1.ValidatingAdmissionPolicy {
	return &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func admissionPolicyBinding(name string) *admissionregistrationv1.ValidatingAdmissionPolicyBinding {
	return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name}}
}

// recorder records the writes Run makes, in order, and plays the
// Deployment controller and kubelet: once the Deployment is scaled to zero,
// its pods go after `podsGoAfter` more lists (never, if negative).
type recorder struct {
	mu          sync.Mutex
	writes      []string
	podsGoAfter int
	scaled      bool
	lists       int
}

func (r *recorder) record(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, fmt.Sprintf(format, a...))
}

func (r *recorder) funcs() interceptor.Funcs {
	return interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			raw, _ := patch.Data(obj)
			if err := c.Patch(ctx, obj, patch, opts...); err != nil {
				return err
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				r.record("scale %s/%s to %d", o.Namespace, o.Name, *o.Spec.Replicas)
				r.mu.Lock()
				r.scaled = *o.Spec.Replicas == 0
				r.mu.Unlock()
			case *corev1.ServiceAccount:
				r.record("finalizers of %s/%s: %s", o.Namespace, o.Name, strings.Join(o.Finalizers, ","))
			default:
				r.record("patch %T %s", obj, raw)
			}
			return nil
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			err := c.Delete(ctx, obj, opts...)
			if err == nil {
				r.record("delete %s %s", strings.TrimPrefix(fmt.Sprintf("%T", obj), "*v1."), obj.GetName())
			}
			return err
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*corev1.PodList); ok {
				r.mu.Lock()
				if r.scaled && r.podsGoAfter >= 0 && r.lists >= r.podsGoAfter {
					r.mu.Unlock()
					if err := c.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(Namespace), client.MatchingLabels(keylessLabels)); err != nil {
						return err
					}
					r.record("kubelet: pods gone")
					r.mu.Lock()
				}
				r.lists++
				r.mu.Unlock()
			}
			return c.List(ctx, list, opts...)
		},
	}
}

// TestRunStopsKeylessFirst checks that no finalizer is removed, and no
// admission object deleted, while Keyless may still run: first the
// Deployment goes to zero and its pods away.
func TestRunStopsKeylessFirst(t *testing.T) {
	base := []client.Object{
		webhookConfiguration(WebhookConfigurationName),
		admissionPolicy(FinalizerPolicyName), admissionPolicyBinding(FinalizerPolicyName),
		admissionPolicy("someone-elses"), admissionPolicyBinding("someone-elses"),
		sa("shop", "orders", annotations.Finalizer),
	}
	cleanup := []string{
		"delete MutatingWebhookConfiguration keyless",
		"delete ValidatingAdmissionPolicyBinding keyless-finalizer",
		"delete ValidatingAdmissionPolicy keyless-finalizer",
		"finalizers of shop/orders: ",
	}
	tests := []struct {
		name        string
		objs        []client.Object
		podsGoAfter int
		wantWrites  []string
		wantOut     []string
		wantErr     string
	}{
		{
			name: "running: scaled to zero, pods gone, then the rest",
			objs: append([]client.Object{keylessDeployment(2),
				pod(Namespace, "keyless-1", keylessLabels), pod(Namespace, "keyless-2", keylessLabels),
				pod(Namespace, "other", map[string]string{"app.kubernetes.io/name": "other"}),
				pod("shop", "orders-1", keylessLabels)}, base...),
			podsGoAfter: 2,
			wantWrites:  append([]string{"scale keyless-system/keyless to 0", "kubelet: pods gone"}, cleanup...),
			wantOut: []string{"Deployment keyless-system/keyless: scaled to 0 replicas", "Deployment keyless-system/keyless: no pods left",
				"ValidatingAdmissionPolicyBinding keyless-finalizer: deleted", "ValidatingAdmissionPolicy keyless-finalizer: deleted",
				"ServiceAccount shop/orders: finalizer removed"},
		},
		{
			name:        "already at zero with no pods: nothing to scale",
			objs:        append([]client.Object{keylessDeployment(0)}, base...),
			podsGoAfter: -1,
			wantWrites:  cleanup,
			wantOut:     []string{"Deployment keyless-system/keyless: no pods left"},
		},
		{
			name:        "no Deployment: the rest goes on",
			objs:        base,
			podsGoAfter: -1,
			wantWrites:  cleanup,
			wantOut:     []string{"Deployment keyless-system/keyless: not found, nothing to stop"},
		},
		{
			name: "pods that never go: nothing else changes",
			objs: append([]client.Object{keylessDeployment(2),
				pod(Namespace, "keyless-b", keylessLabels), pod(Namespace, "keyless-a", keylessLabels)}, base...),
			podsGoAfter: -1,
			wantWrites:  []string{"scale keyless-system/keyless to 0"},
			wantErr:     "pods of Keyless are still there 50ms after scaling Deployment keyless-system/keyless to 0 (keyless-a, keyless-b)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			r := &recorder{podsGoAfter: tt.podsGoAfter}
			c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(tt.objs...).
				WithInterceptorFuncs(r.funcs()).Build()
			o := DefaultOptions()
			o.StopTimeout, o.Poll = 50*time.Millisecond, time.Millisecond

			var out bytes.Buffer
			err := RunWithOptions(ctx, c, &out, o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Run error = %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			if !slices.Equal(r.writes, tt.wantWrites) {
				t.Errorf("writes, in order:\n  %s\nwant\n  %s", strings.Join(r.writes, "\n  "), strings.Join(tt.wantWrites, "\n  "))
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w+"\n") {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			// Unrelated objects stay.
			for _, o := range []client.Object{admissionPolicy("someone-elses"), admissionPolicyBinding("someone-elses")} {
				if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
					t.Errorf("%T %s: %v, want it untouched", o, o.GetName(), err)
				}
			}
			for _, o := range tt.objs {
				if p, ok := o.(*corev1.Pod); ok && (p.Namespace != Namespace || p.Labels["app.kubernetes.io/name"] != "keyless") {
					if err := c.Get(ctx, client.ObjectKeyFromObject(p), &corev1.Pod{}); err != nil {
						t.Errorf("pod %s/%s: %v, want it untouched", p.Namespace, p.Name, err)
					}
				}
			}
		})
	}
}
