package e2e

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/uninstall"
)

const otherFinalizer = "example.com/protect"

// finalizerChange is one way of writing a ServiceAccount that holds Keyless's
// finalizer and otherFinalizer.
type finalizerChange func(ctx context.Context, c client.Client, sa *corev1.ServiceAccount) error

func rawPatch(pt types.PatchType, body string) finalizerChange {
	return func(ctx context.Context, c client.Client, sa *corev1.ServiceAccount) error {
		return c.Patch(ctx, sa, client.RawPatch(pt, []byte(body)))
	}
}

var (
	// kubectl patch sa x --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
	removeAllFinalizers = rawPatch(types.JSONPatchType, `[{"op":"remove","path":"/metadata/finalizers"}]`)
	// What Keyless sends once the cloud objects are gone.
	removeKeylessFinalizer = rawPatch(types.MergePatchType, `{"metadata":{"finalizers":["`+otherFinalizer+`"]}}`)
	// The connection and the finalizer in one update, so that a delete right
	// after it waits for nothing.
	removeConnectionAndFinalizer = rawPatch(types.MergePatchType,
		`{"metadata":{"annotations":{"`+annotations.KeyAWSRole+`":null},"finalizers":["`+otherFinalizer+`"]}}`)
	removeOtherFinalizer = rawPatch(types.MergePatchType, `{"metadata":{"finalizers":["`+annotations.Finalizer+`"]}}`)
	editAnnotation       = rawPatch(types.MergePatchType, `{"metadata":{"annotations":{"team":"payments"}}}`)
	// kubectl edit: a whole-object update.
	updateWithoutKeylessFinalizer finalizerChange = func(ctx context.Context, c client.Client, sa *corev1.ServiceAccount) error {
		sa.Finalizers = slices.DeleteFunc(sa.Finalizers, func(f string) bool { return f == annotations.Finalizer })
		return c.Update(ctx, sa)
	}
)

// TestOnlyKeylessRemovesItsFinalizer writes connected ServiceAccounts as a
// tenant, as Keyless and as a cluster admin, with deploy/'s policies in
// force: only Keyless, and admins who could switch the policy off, take
// the finalizer off, whether or not the ServiceAccount is being deleted.
func TestOnlyKeylessRemovesItsFinalizer(t *testing.T) {
	g := startGuardedCluster(t)
	tests := []struct {
		name       string
		as         func(*guardedCluster) client.Client
		deleteWait bool // kubectl delete --wait=false first, as the tenant
		change     finalizerChange
		wantDenied bool
		wantKept   bool // Keyless's finalizer is still there afterwards
	}{
		{"tenant removes all finalizers", tenantOf, false, removeAllFinalizers, true, true},
		{"tenant removes all finalizers after delete --wait=false", tenantOf, true, removeAllFinalizers, true, true},
		{"tenant removes Keyless's finalizer", tenantOf, false, removeKeylessFinalizer, true, true},
		{"tenant removes Keyless's finalizer after delete --wait=false", tenantOf, true, removeKeylessFinalizer, true, true},
		{"tenant removes the connection and the finalizer together", tenantOf, false, removeConnectionAndFinalizer, true, true},
		{"tenant updates the whole object without the finalizer", tenantOf, false, updateWithoutKeylessFinalizer, true, true},
		{"tenant removes another finalizer", tenantOf, false, removeOtherFinalizer, false, true},
		{"tenant edits an annotation of a ServiceAccount being deleted", tenantOf, true, editAnnotation, false, true},
		{"keyless removes its finalizer", keylessOf, false, removeKeylessFinalizer, false, false},
		{"keyless removes its finalizer after the delete", keylessOf, true, removeKeylessFinalizer, false, false},
		{"cluster admin outside system:masters removes all finalizers", clusterAdminOf, true, removeAllFinalizers, false, false},
	}
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa := serviceAccount(g.tenantNS, fmt.Sprintf("app-%d", i), annotated(annotations.KeyAWSRole, "team-a-orders"),
				func(o client.Object) { o.SetFinalizers([]string{annotations.Finalizer, otherFinalizer}) })
			g.create(t, sa)
			if tt.deleteWait {
				if err := g.tenant.Delete(ctx, sa.DeepCopy()); err != nil {
					t.Fatalf("delete --wait=false: %v", err)
				}
			}
			if err := g.admin.Get(ctx, client.ObjectKeyFromObject(sa), sa); err != nil {
				t.Fatal(err)
			}

			err := tt.change(ctx, tt.as(g), sa.DeepCopy())

			switch {
			case tt.wantDenied && !apierrors.IsForbidden(err):
				t.Fatalf("got %v, want a denial by keyless-finalizer", err)
			case tt.wantDenied:
				mustContain(t, err, "keyless-finalizer", "remove the keyless.dev annotations", "keyless uninstall")
			case err != nil:
				t.Fatalf("got %v, want the write allowed", err)
			}
			after := &corev1.ServiceAccount{}
			getErr := g.admin.Get(ctx, client.ObjectKeyFromObject(sa), after)
			if getErr != nil && !apierrors.IsNotFound(getErr) {
				t.Fatal(getErr)
			}
			if kept := getErr == nil && slices.Contains(after.Finalizers, annotations.Finalizer); kept != tt.wantKept {
				t.Errorf("Keyless's finalizer kept = %v, want %v (finalizers now %v, read error %v)",
					kept, tt.wantKept, after.Finalizers, getErr)
			}
		})
	}

	// keyless uninstall, run by a cluster admin who is not in system:masters,
	// releases every ServiceAccount with the policies still in place.
	t.Run("keyless uninstall as a cluster admin", func(t *testing.T) {
		held := serviceAccount(g.tenantNS, "held", func(o client.Object) { o.SetFinalizers([]string{annotations.Finalizer}) })
		g.create(t, held)
		if err := g.tenant.Delete(ctx, held.DeepCopy()); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := uninstall.Run(ctx, g.clusterAdmin, &out); err != nil {
			t.Fatalf("uninstall: %v\n%s", err, &out)
		}
		if !strings.Contains(out.String(), "ServiceAccount "+g.tenantNS+"/held: finalizer removed") {
			t.Errorf("uninstall did not release %s/held:\n%s", g.tenantNS, &out)
		}
		eventually(t, 10*time.Second, func() error {
			if err := g.admin.Get(ctx, client.ObjectKeyFromObject(held), &corev1.ServiceAccount{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("the ServiceAccount is still there: %v", err)
			}
			return nil
		})
	})
}

func tenantOf(g *guardedCluster) client.Client       { return g.tenant }
func keylessOf(g *guardedCluster) client.Client      { return g.keyless }
func clusterAdminOf(g *guardedCluster) client.Client { return g.clusterAdmin }
