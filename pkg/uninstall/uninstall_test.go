package uninstall

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

const otherFinalizer = "example.com/protect"

func sa(namespace, name string, finalizers ...string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, Finalizers: finalizers,
		Annotations: map[string]string{annotations.KeyAWSRole: "orders-api"},
	}}
}

func webhookConfiguration(name string) *admissionregistrationv1.MutatingWebhookConfiguration {
	return &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func TestRun(t *testing.T) {
	type want struct {
		finalizers []string
		untouched  bool // same resourceVersion as before
		gone       bool
	}
	tests := []struct {
		name        string
		objs        []client.Object
		terminating []types.NamespacedName // deleted before Run: held by their finalizers
		want        map[types.NamespacedName]want
		wantOut     []string
		wantWebhook string // the line about the webhook configuration
		wantRemoved int
	}{
		{
			name: "several namespaces",
			objs: []client.Object{
				webhookConfiguration(WebhookConfigurationName),
				webhookConfiguration("someone-else"),
				sa("shop", "orders", annotations.Finalizer),
				sa("shop", "payments", annotations.Finalizer, otherFinalizer),
				sa("shop", "plain"),
				sa("billing", "invoices", annotations.Finalizer),
				sa("billing", "guarded", otherFinalizer),
				sa("kube-system", "default"),
			},
			want: map[types.NamespacedName]want{
				{Namespace: "shop", Name: "orders"}:         {},
				{Namespace: "shop", Name: "payments"}:       {finalizers: []string{otherFinalizer}},
				{Namespace: "shop", Name: "plain"}:          {untouched: true},
				{Namespace: "billing", Name: "invoices"}:    {},
				{Namespace: "billing", Name: "guarded"}:     {finalizers: []string{otherFinalizer}, untouched: true},
				{Namespace: "kube-system", Name: "default"}: {untouched: true},
			},
			wantOut: []string{
				"ServiceAccount shop/orders: finalizer removed",
				"ServiceAccount shop/payments: finalizer removed",
				"ServiceAccount billing/invoices: finalizer removed",
			},
			wantWebhook: "MutatingWebhookConfiguration keyless: deleted",
			wantRemoved: 3,
		},
		{
			name: "terminating ServiceAccounts are released",
			objs: []client.Object{
				webhookConfiguration(WebhookConfigurationName),
				sa("shop", "orders", annotations.Finalizer),
				sa("shop", "payments", annotations.Finalizer, otherFinalizer),
			},
			terminating: []types.NamespacedName{{Namespace: "shop", Name: "orders"}, {Namespace: "shop", Name: "payments"}},
			want: map[types.NamespacedName]want{
				{Namespace: "shop", Name: "orders"}:   {gone: true},
				{Namespace: "shop", Name: "payments"}: {finalizers: []string{otherFinalizer}},
			},
			wantOut: []string{
				"ServiceAccount shop/orders: finalizer removed",
				"ServiceAccount shop/payments: finalizer removed",
			},
			wantWebhook: "MutatingWebhookConfiguration keyless: deleted",
			wantRemoved: 2,
		},
		{
			name:        "nothing installed",
			objs:        []client.Object{sa("shop", "plain")},
			want:        map[types.NamespacedName]want{{Namespace: "shop", Name: "plain"}: {untouched: true}},
			wantWebhook: "MutatingWebhookConfiguration keyless: already gone",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(tt.objs...).Build()
			for _, key := range tt.terminating {
				if err := c.Delete(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); err != nil {
					t.Fatalf("deleting %s: %v", key, err)
				}
			}
			before := map[types.NamespacedName]string{}
			for key := range tt.want {
				got := &corev1.ServiceAccount{}
				if err := c.Get(ctx, key, got); err != nil {
					t.Fatalf("reading %s: %v", key, err)
				}
				before[key] = got.ResourceVersion
			}

			var out bytes.Buffer
			if err := Run(ctx, c, &out); err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if want := "Deployment keyless-system/keyless: not found, nothing to stop"; lines[0] != want {
				t.Errorf("first line = %q, want %q", lines[0], want)
			}
			if !slices.Contains(lines, tt.wantWebhook) {
				t.Errorf("output lacks %q:\n%s", tt.wantWebhook, out.String())
			}
			for _, w := range tt.wantOut {
				if !slices.Contains(lines, w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if n := strings.Count(out.String(), "finalizer removed\n"); n != len(tt.wantOut) {
				t.Errorf("output names %d ServiceAccounts, want %d:\n%s", n, len(tt.wantOut), out.String())
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, strconv.Itoa(tt.wantRemoved)+" ServiceAccount finalizers removed") {
				t.Errorf("last line = %q, want the count %d", last, tt.wantRemoved)
			}

			err := c.Get(ctx, client.ObjectKey{Name: WebhookConfigurationName}, &admissionregistrationv1.MutatingWebhookConfiguration{})
			if !apierrors.IsNotFound(err) {
				t.Errorf("MutatingWebhookConfiguration %s: Get error = %v, want NotFound", WebhookConfigurationName, err)
			}
			for _, o := range tt.objs {
				if wh, ok := o.(*admissionregistrationv1.MutatingWebhookConfiguration); ok && wh.Name != WebhookConfigurationName {
					if err := c.Get(ctx, client.ObjectKey{Name: wh.Name}, wh.DeepCopy()); err != nil {
						t.Errorf("MutatingWebhookConfiguration %s: %v, want it untouched", wh.Name, err)
					}
				}
			}

			for key, w := range tt.want {
				got := &corev1.ServiceAccount{}
				err := c.Get(ctx, key, got)
				switch {
				case w.gone:
					if !apierrors.IsNotFound(err) {
						t.Errorf("%s: Get error = %v, want it deleted once its last finalizer went", key, err)
					}
					continue
				case err != nil:
					t.Errorf("%s: %v", key, err)
					continue
				}
				if !slices.Equal(got.Finalizers, w.finalizers) {
					t.Errorf("%s: finalizers = %v, want %v", key, got.Finalizers, w.finalizers)
				}
				if w.untouched && got.ResourceVersion != before[key] {
					t.Errorf("%s: changed (resourceVersion %s → %s), want it untouched", key, before[key], got.ResourceVersion)
				}
				if got.Annotations[annotations.KeyAWSRole] != "orders-api" {
					t.Errorf("%s: annotations changed: %v", key, got.Annotations)
				}
			}

			// Running it again is fine: everything is already gone.
			out.Reset()
			if err := Run(ctx, c, &out); err != nil {
				t.Fatalf("second Run: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "MutatingWebhookConfiguration keyless: already gone\n") {
				t.Errorf("second Run output lacks \"already gone\":\n%s", out.String())
			}
			if strings.Contains(out.String(), "finalizer removed\n") {
				t.Errorf("second Run removed finalizers again:\n%s", out.String())
			}
			if !strings.Contains(out.String(), "0 ServiceAccount finalizers removed") {
				t.Errorf("second Run output lacks the zero count:\n%s", out.String())
			}
		})
	}
}
