package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// TestCreatedServiceAccountGoesWithItsLastUser: a ServiceAccount that
// Keyless created for a Deployment is shared by a CronJob and two Jobs of
// one generateName. Every user becomes one of its owners, so the real
// garbage collector keeps it while any of them is left, dropping only the
// deleted owner, and deletes it (and Keyless its binding) with the last.
func TestCreatedServiceAccountGoesWithItsLastUser(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	gsa := "shared-user@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	seed(t, annotations.KeyGCPServiceAccount, gsa)
	conn := annotated(annotations.KeyGCPServiceAccount, gsa)
	d := deployment(ns, "web", conn, withServiceAccount("shared"))
	create(t, d)
	serviceAccountEventually(t, ns, "shared", stateIs(annotations.KeyStatusGCP, "Ready"))
	cron := cronJob(ns, "nightly", conn, withServiceAccount("shared"))
	create(t, cron)
	jobs := []*batchv1.Job{}
	for range 2 {
		j := job(ns, "", conn, withServiceAccount("shared"))
		j.GenerateName = "batch-"
		create(t, j)
		jobs = append(jobs, j)
	}
	users := []client.Object{d, cron, jobs[0], jobs[1]}
	ownedBy(t, ns, users...)

	// One user at a time; the garbage collector drops each from the
	// owners, and the ServiceAccount stays while one is left.
	for i, u := range users[:len(users)-1] {
		deleteInBackground(t, u)
		ownedBy(t, ns, users[i+1:]...)
		if members(gsa, ns, "shared") != 1 {
			t.Fatalf("the binding went with %T %s, while others still use the ServiceAccount", u, u.GetName())
		}
	}
	deleteInBackground(t, users[len(users)-1])
	gone(t, ns, "shared")
	waitFor(t, "the binding to be removed", func() bool { return members(gsa, ns, "shared") == 0 })
}

// ownedBy waits until the ServiceAccount "shared" is owned by exactly the
// users (a deleted owner's reference dropped by the garbage collector).
func ownedBy(t *testing.T, ns string, users ...client.Object) {
	t.Helper()
	var want []types.UID
	for _, u := range users {
		want = append(want, u.GetUID())
	}
	slices.Sort(want)
	deadline := time.Now().Add(clusterTimeout)
	for {
		sa := &corev1.ServiceAccount{}
		err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "shared"}, sa)
		var got []types.UID
		for _, o := range sa.OwnerReferences {
			got = append(got, o.UID)
		}
		slices.Sort(got)
		if err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ServiceAccount shared: owners %v (error %v), want %s", sa.OwnerReferences, err, describe(users))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func describe(objs []client.Object) string {
	s := ""
	for _, o := range objs {
		kind := fmt.Sprintf("%T", o)
		switch o.(type) {
		case *appsv1.Deployment:
			kind = "Deployment"
		case *batchv1.CronJob:
			kind = "CronJob"
		case *batchv1.Job:
			kind = "Job"
		}
		s += fmt.Sprintf(" %s/%s(%s)", kind, o.GetName(), o.GetUID())
	}
	return s
}
