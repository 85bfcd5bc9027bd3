package e2e

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// TestDeletingANamespaceRemovesItsCloudObjects deletes a namespace with a
// connected Deployment (and its running pods) and a connected
// ServiceAccount, and leaves the rest to the cluster: the namespace
// controller deletes the contents, Keyless's finalizer holds each
// ServiceAccount until its cloud objects and their records are gone, and
// then the namespace goes.
func TestDeletingANamespaceRemovesItsCloudObjects(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	create(t, deployment(ns, "doomed", connectedToAll(t, "doomed")))
	gsa := "doomed-sa@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	seed(t, annotations.KeyGCPServiceAccount, gsa)
	create(t, serviceAccount(ns, "by-hand", annotated(annotations.KeyGCPServiceAccount, gsa)))
	readyOnAll(t, ns, "doomed")
	serviceAccountEventually(t, ns, "by-hand", stateIs(annotations.KeyStatusGCP, "Ready"))
	podsEventually(t, ns, "x", running(1))
	if n := len(recordsOf(t, ns, "doomed")) + len(recordsOf(t, ns, "by-hand")); n != 4 {
		t.Fatalf("%d records, want one per connected cloud of each ServiceAccount (4)", n)
	}

	if err := k8s.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	namespaceGone(t, ns)
	if a, c, m := len(associations(ns, "doomed")), len(credentials(rg, "doomed", ns, "doomed")), members("doomed@"+devenv.GCPProject+".iam.gserviceaccount.com", ns, "doomed"); a+c+m != 0 {
		t.Errorf("the Deployment's cloud objects remain: %d associations, %d credentials, %d members", a, c, m)
	}
	if m := members(gsa, ns, "by-hand"); m != 0 {
		t.Errorf("the ServiceAccount's binding remains: %d members", m)
	}
	if r := append(recordsOf(t, ns, "doomed"), recordsOf(t, ns, "by-hand")...); len(r) != 0 {
		t.Errorf("records remain: %+v", r)
	}
}
