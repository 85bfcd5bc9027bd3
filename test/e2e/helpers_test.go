package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func zapLevel() zapcore.Level {
	if testing.Verbose() {
		return zapcore.InfoLevel
	}
	return zapcore.ErrorLevel
}

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-") + "-" + rand.String(5)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return name
}

type objOpt func(client.Object)

func annotated(kv ...string) objOpt {
	return func(o client.Object) {
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			a[kv[i]] = kv[i+1]
		}
		o.SetAnnotations(a)
	}
}

func podSpec() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
}

func deployment(ns, name string, opts ...objOpt) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
			Template: podSpec(),
		},
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

func withServiceAccount(sa string) objOpt {
	return func(o client.Object) {
		switch w := o.(type) {
		case *appsv1.Deployment:
			w.Spec.Template.Spec.ServiceAccountName = sa
		case *batchv1.CronJob:
			w.Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName = sa
		case *batchv1.Job:
			w.Spec.Template.Spec.ServiceAccountName = sa
		}
	}
}

func withTemplateLabel(k, v string) objOpt {
	return func(o client.Object) {
		if d, ok := o.(*appsv1.Deployment); ok {
			d.Spec.Template.Labels[k] = v
		}
	}
}

func cronJob(ns, name string, opts ...objOpt) *batchv1.CronJob {
	c := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: batchv1.CronJobSpec{
			Schedule:    "0 3 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podSpec()}},
		},
	}
	c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	for _, o := range opts {
		o(c)
	}
	return c
}

func serviceAccount(ns, name string, opts ...objOpt) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, o := range opts {
		o(sa)
	}
	return sa
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func get(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatalf("reading %T %s: %v", obj, obj.GetName(), err)
	}
}

// eventually retries check until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serviceAccountEventually waits until the ServiceAccount exists and passes check.
func serviceAccountEventually(t *testing.T, ns, name string, check func(*corev1.ServiceAccount) error) *corev1.ServiceAccount {
	t.Helper()
	sa := &corev1.ServiceAccount{}
	eventually(t, 20*time.Second, func() error {
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, sa); err != nil {
			return err
		}
		return check(sa)
	})
	return sa
}

func wantAnnotation(key, value string) func(*corev1.ServiceAccount) error {
	return func(sa *corev1.ServiceAccount) error {
		if got, ok := sa.Annotations[key]; !ok || got != value {
			return fmt.Errorf("annotation %s = %q (present %v), want %q; all: %v", key, got, ok, value, sa.Annotations)
		}
		return nil
	}
}

func noAnnotation(key string) func(*corev1.ServiceAccount) error {
	return func(sa *corev1.ServiceAccount) error {
		if got, ok := sa.Annotations[key]; ok {
			return fmt.Errorf("annotation %s = %q is still there", key, got)
		}
		return nil
	}
}

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected a denial containing %q, got success", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not contain %q:\n%v", p, err)
		}
	}
}

// update reads obj, applies change and writes it back, retrying when the
// controller wrote in between.
func update(t *testing.T, obj client.Object, change func()) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		get(t, obj)
		change()
		return k8s.Update(context.Background(), obj)
	}); err != nil {
		t.Fatalf("updating %T %s: %v", obj, obj.GetName(), err)
	}
}
