package workload

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

func TestSummaryRoundTrip(t *testing.T) {
	meta := metav1.ObjectMeta{Namespace: "shop", Name: "orders", UID: "uid-1",
		Annotations: map[string]string{annotations.KeyAWSRole: "orders"}}
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{DeprecatedServiceAccount: "old",
		Containers: []corev1.Container{{Name: "app"}}}}
	for _, k := range Kinds {
		t.Run(k.Name, func(t *testing.T) {
			in := k.New()
			in.SetName("orders")
			*PodTemplate(in) = tmpl
			s := Summarize(in, meta)
			if s == nil || KindOf(s) != k.Name || ServiceAccountName(s) != "old" || !Connected(s) {
				t.Fatalf("summary %+v", s)
			}
			out := k.New()
			PodTemplate(out).Spec.NodeName = "left over"
			if !s.Into(out) {
				t.Fatal("Into refused its own kind")
			}
			if out.GetName() != "orders" || out.GetUID() != "uid-1" || ServiceAccountName(out) != "old" ||
				PodTemplate(out).Spec.NodeName != "" || PodTemplate(out).Spec.Containers != nil {
				t.Errorf("typed object %+v", out)
			}
			out.GetAnnotations()[annotations.KeyAWSRole] = "changed"
			if s.Annotations[annotations.KeyAWSRole] != "orders" {
				t.Error("the typed object shares the summary's annotations")
			}
		})
	}
}

func TestSummaryRefuses(t *testing.T) {
	if s := Summarize(&corev1.ConfigMap{}, metav1.ObjectMeta{}); s != nil {
		t.Errorf("a ConfigMap summarized: %+v", s)
	}
	s := Summarize(&batchv1.Job{}, metav1.ObjectMeta{Name: "j"})
	for _, other := range []client.Object{&appsv1.Deployment{}, &batchv1.CronJob{}, &corev1.ServiceAccount{}} {
		if s.Into(other) {
			t.Errorf("a Job summary went into a %T", other)
		}
	}
	cp := s.DeepCopyObject().(*Summary)
	cp.Name = "other"
	if s.Name != "j" || cp.Kind != "Job" {
		t.Errorf("copy %+v of %+v", cp, s)
	}
}
