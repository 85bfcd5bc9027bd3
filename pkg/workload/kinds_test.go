package workload

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// TestKindsAgree: for every kind, Kinds, KindOf, New, PodTemplate and
// PodTemplatePath describe the same object, so that the webhook's patch
// paths (PodTemplatePath) and the controller's reads (PodTemplate) meet.
func TestKindsAgree(t *testing.T) {
	want := []string{"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
	if len(Kinds) != len(want) {
		t.Fatalf("%d kinds, want %v", len(Kinds), want)
	}
	for i, k := range Kinds {
		t.Run(k.Name, func(t *testing.T) {
			if k.Name != want[i] {
				t.Errorf("kind %d is %s, want %s (the order is fixed)", i, k.Name, want[i])
			}
			obj := k.New()
			if got := KindOf(obj); got != k.Name {
				t.Errorf("KindOf(New()) = %q", got)
			}
			if got := New(k.Name); reflect.TypeOf(got) != reflect.TypeOf(obj) {
				t.Errorf("New(%q) is a %T, want a %T", k.Name, got, obj)
			}
			if reflect.TypeOf(k.NewList()).Elem().Name() != reflect.TypeOf(obj).Elem().Name()+"List" {
				t.Errorf("NewList() is a %T, not the list of %T", k.NewList(), obj)
			}
			tmpl := PodTemplate(obj)
			if tmpl == nil {
				t.Fatal("PodTemplate(New()) = nil")
			}
			tmpl.Spec.ServiceAccountName = "orders-api"
			tmpl.Labels = map[string]string{"app": "orders"}
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				t.Fatal(err)
			}
			path := PodTemplatePath(k.Name)
			if got, _, _ := unstructured.NestedString(u, append(path, "spec", "serviceAccountName")...); got != "orders-api" {
				t.Errorf("at %v.spec.serviceAccountName: %q, want what PodTemplate set", path, got)
			}
			if got, _, _ := unstructured.NestedStringMap(u, append(path, "metadata", "labels")...); !maps.Equal(got, tmpl.Labels) {
				t.Errorf("at %v.metadata.labels: %v, want what PodTemplate set", path, got)
			}
			if got := ServiceAccountName(obj); got != "orders-api" {
				t.Errorf("ServiceAccountName = %q, want orders-api", got)
			}
		})
	}
}

func TestNotAWorkload(t *testing.T) {
	for _, obj := range []client.Object{&corev1.Pod{}, &corev1.ServiceAccount{}, &appsv1.ReplicaSet{}, &corev1.ReplicationController{}} {
		if k := KindOf(obj); k != "" {
			t.Errorf("KindOf(%T) = %q, want \"\"", obj, k)
		}
		if p := PodTemplate(obj); p != nil {
			t.Errorf("PodTemplate(%T) = %v, want nil", obj, p)
		}
		if s := ServiceAccountName(obj); s != "" {
			t.Errorf("ServiceAccountName(%T) = %q, want \"\"", obj, s)
		}
	}
	for _, kind := range []string{"Pod", "ReplicaSet", "deployment", ""} {
		if obj := New(kind); obj != nil {
			t.Errorf("New(%q) = %T, want nil", kind, obj)
		}
	}
}

func TestServiceAccountName(t *testing.T) {
	tests := []struct {
		name                    string
		serviceAccountName, old string
		want                    string
	}{
		{"named", "orders-api", "", "orders-api"},
		{"named, and the deprecated field too", "orders-api", "legacy", "orders-api"},
		{"only the deprecated field", "", "legacy", "legacy"},
		{"none: the namespace's default", "", "", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := corev1.PodSpec{ServiceAccountName: tt.serviceAccountName, DeprecatedServiceAccount: tt.old}
			cron := &batchv1.CronJob{}
			cron.Spec.JobTemplate.Spec.Template.Spec = spec
			for _, obj := range []client.Object{
				&appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: spec}}},
				cron,
			} {
				if got := ServiceAccountName(obj); got != tt.want {
					t.Errorf("ServiceAccountName(%T) = %q, want %q", obj, got, tt.want)
				}
			}
		})
	}
}

func TestConnected(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        bool
	}{
		{"none", nil, false},
		{"AWS role", map[string]string{annotations.KeyAWSRole: "orders-api"}, true},
		{"Azure identity", map[string]string{annotations.KeyAzureIdentity: "orders"}, true},
		{"Azure resource group alone", map[string]string{annotations.KeyAzureResourceGroup: "shop-rg"}, true},
		{"Azure client ID alone", map[string]string{annotations.KeyAzureClientID: "00000000-0000-0000-0000-000000000001"}, true},
		{"GCP service account", map[string]string{annotations.KeyGCPServiceAccount: "orders@shop.iam.gserviceaccount.com"}, true},
		{"an empty value still says so", map[string]string{annotations.KeyAWSRole: ""}, true},
		{"settings only", map[string]string{annotations.KeyDeletionPolicy: "retain", annotations.KeyRestartOnReady: "false",
			annotations.KeyAWSTargetRole: "arn:aws:iam::123456789012:role/x", annotations.KeyAWSSessionTags: "false"}, false},
		{"Keyless's bookkeeping only", map[string]string{annotations.KeyInjected: "{}", annotations.KeyPropagated: "x",
			annotations.KeyStatusAWS: "{}", annotations.KeyRestartedAt: "2026-01-01T00:00:00Z"}, false},
		{"a look-alike key", map[string]string{"keyless.dev/aws-rol": "x", "eks.amazonaws.com/role-arn": "arn"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: tt.annotations}}
			if got := Connected(d); got != tt.want {
				t.Errorf("Connected = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNamespaceLabels(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "shop"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bare"}},
	).Build()
	for _, tt := range []struct {
		ns    string
		want  map[string]string
		found bool
	}{
		{"shop", map[string]string{"team": "shop"}, true},
		{"bare", nil, true},
		{"missing", nil, false},
	} {
		got, found, err := NamespaceLabels(context.Background(), c, tt.ns)
		if err != nil {
			t.Errorf("NamespaceLabels(%s): %v, want no error (a missing namespace is not found)", tt.ns, err)
		}
		if !maps.Equal(got, tt.want) || found != tt.found {
			t.Errorf("NamespaceLabels(%s) = %v, %v; want %v, %v", tt.ns, got, found, tt.want, tt.found)
		}
	}
	down := errors.New("connection refused")
	failing := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return down
		},
	}).Build()
	if _, _, err := NamespaceLabels(context.Background(), failing, "shop"); !errors.Is(err, down) || !strings.Contains(err.Error(), "reading namespace shop") {
		t.Errorf("NamespaceLabels with the API server down: %v, want the error wrapped with the namespace", err)
	}
}
