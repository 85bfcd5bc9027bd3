package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// TestServiceAccountAppearingWhileCreated: someone else creates the
// ServiceAccount between the reconcile's read and its create (the same
// manifests applied by hand). That is no failure to log: the reconcile
// comes again soon, and then propagates to the ServiceAccount that exists.
func TestServiceAccountAppearingWhileCreated(t *testing.T) {
	ctx := context.Background()
	web := testJob("migrate-abcde", "migrate", kv(annotations.KeyAWSRole, roleA))
	f := newSyncFixture(t, allClouds, web)
	raced := false
	c := interceptor.NewClient(f.c.(client.WithWatch), interceptor.Funcs{
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*corev1.ServiceAccount); ok && !raced {
				raced = true // theirs lands first
				theirs := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "migrate"}}
				if err := cl.Create(ctx, theirs); err != nil {
					return err
				}
			}
			return cl.Create(ctx, obj, opts...)
		},
	})
	r := &ServiceAccountReconciler{Client: c, Recorder: f.rec, Options: syncOpts}
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "migrate"}}
	res, err := r.Reconcile(ctx, req)
	if err != nil || res.RequeueAfter <= 0 {
		t.Fatalf("Reconcile = %+v, %v; want a requeue and no error", res, err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{}
	if err := f.c.Get(ctx, req.NamespacedName, sa); err != nil {
		t.Fatal(err)
	}
	if sa.Annotations[annotations.KeyAWSRole] != roleA {
		t.Errorf("annotations %v, want the workload's role propagated to the ServiceAccount that appeared", sa.Annotations)
	}
}
