package e2e

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
	"github.com/keyless-dev/keyless/pkg/record"
)

// recordsOf lists Keyless's records of one ServiceAccount's cloud objects.
func recordsOf(t *testing.T, ns, sa string) []record.Entry {
	t.Helper()
	all, err := (&record.Store{Client: k8s, Namespace: env.KeylessConfig().LeaderElectionNamespace}).All(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Entry
	for _, e := range all {
		if e.Namespace == ns && e.ServiceAccount == sa {
			out = append(out, e)
		}
	}
	return out
}

// A ServiceAccount deleted with Keyless's finalizer stripped, and replaced
// at once by one of the same name that connects nothing: the clouds key
// the binding by namespace and name, so the new one would inherit it. The
// records let the controller (its finalizer, or failing that the sweep)
// find the binding and remove it.
func TestReplacedServiceAccountInheritsNothing(t *testing.T) {
	ns := namespace(t)
	gsa := "orphan@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	seed(t, annotations.KeyGCPServiceAccount, gsa, annotations.KeyAWSRole, "orphan")
	create(t, serviceAccount(ns, "app", annotated(annotations.KeyGCPServiceAccount, gsa, annotations.KeyAWSRole, "orphan")))
	old := serviceAccountEventually(t, ns, "app", stateIs(annotations.KeyStatusGCP, "Ready"))
	serviceAccountEventually(t, ns, "app", stateIs(annotations.KeyStatusAWS, "Ready"))
	if n := len(recordsOf(t, ns, "app")); n != 2 {
		t.Fatalf("%d records, want one per connected cloud", n)
	}

	// As fast as a client can: strip the finalizer, delete, re-create.
	ctx := context.Background()
	if err := k8s.Patch(ctx, old, client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`))); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, old); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	gone(t, ns, "app")
	create(t, serviceAccount(ns, "app"))

	waitFor(t, "the old bindings removed", func() bool {
		return members(gsa, ns, "app") == 0 && len(associations(ns, "app")) == 0 && len(recordsOf(t, ns, "app")) == 0
	})
}
