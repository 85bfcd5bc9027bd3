package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

const (
	rg = "ids"
)

func awsRoleARN(name string) string {
	return "arn:aws:iam::" + devenv.AWSAccount + ":role/" + name
}

// TestConnectChangeRemove walks one Deployment through the life of a
// connection on each cloud: connect, change the identity, remove it.
func TestConnectChangeRemove(t *testing.T) {
	ns := namespace(t)
	gsaA, gsaB := "app-aaaa@"+devenv.GCPProject+".iam.gserviceaccount.com", "app-bbbb@"+devenv.GCPProject+".iam.gserviceaccount.com"
	seed(t, annotations.KeyAWSRole, "role-a", annotations.KeyGCPServiceAccount, gsaA,
		annotations.KeyAzureIdentity, "id-a", annotations.KeyAzureResourceGroup, rg)
	seed(t, annotations.KeyAWSRole, "role-b", annotations.KeyGCPServiceAccount, gsaB,
		annotations.KeyAzureIdentity, "id-b", annotations.KeyAzureResourceGroup, rg)

	d := deployment(ns, "app", annotated(annotations.KeyAWSRole, "role-a", annotations.KeyGCPServiceAccount, gsaA,
		annotations.KeyAzureIdentity, "id-a", annotations.KeyAzureResourceGroup, rg))
	create(t, d)
	sa := serviceAccountEventually(t, ns, "app", func(sa *corev1.ServiceAccount) error {
		for _, k := range []string{annotations.KeyStatusAWS, annotations.KeyStatusAzure, annotations.KeyStatusGCP} {
			if err := stateIs(k, "Ready")(sa); err != nil {
				return err
			}
		}
		return nil
	})
	if got := associations(ns, "app"); len(got) != 1 || got[0].RoleARN != awsRoleARN("role-a") {
		t.Errorf("associations = %+v, want one for role-a", got)
	}
	if n := len(credentials(rg, "id-a", ns, "app")); n != 1 {
		t.Errorf("credentials on id-a = %d, want 1", n)
	}
	if n := members(gsaA, ns, "app"); n != 1 {
		t.Errorf("members on %s = %d, want 1", gsaA, n)
	}
	if sa.Annotations[annotations.AzureClientIDAnnotation] == "" {
		t.Errorf("the identity's client ID was not written to %s", annotations.AzureClientIDAnnotation)
	}
	if !containsString(sa.Finalizers, annotations.Finalizer) {
		t.Errorf("finalizer missing: %v", sa.Finalizers)
	}
	// AWS and Azure inject credentials at pod creation: the Deployment is
	// restarted once its connections are ready.
	eventually(t, 10*time.Second, func() error {
		get(t, d)
		if d.Spec.Template.Annotations[annotations.KeyRestartedAt] == "" {
			return fmt.Errorf("pod template has no %s: %v", annotations.KeyRestartedAt, d.Spec.Template.Annotations)
		}
		return nil
	})

	// Change every identity.
	update(t, d, func() {
		d.Annotations[annotations.KeyAWSRole] = "role-b"
		d.Annotations[annotations.KeyGCPServiceAccount] = gsaB
		d.Annotations[annotations.KeyAzureIdentity] = "id-b"
	})
	waitFor(t, "every cloud to follow the change", func() bool {
		a := associations(ns, "app")
		return len(a) == 1 && a[0].RoleARN == awsRoleARN("role-b") &&
			len(credentials(rg, "id-a", ns, "app")) == 0 && len(credentials(rg, "id-b", ns, "app")) == 1 &&
			members(gsaA, ns, "app") == 0 && members(gsaB, ns, "app") == 1
	})

	// Remove every connection.
	update(t, d, func() {
		for _, k := range []string{annotations.KeyAWSRole, annotations.KeyGCPServiceAccount, annotations.KeyAzureIdentity, annotations.KeyAzureResourceGroup} {
			delete(d.Annotations, k)
		}
	})
	waitFor(t, "the cloud objects to be removed", func() bool {
		return len(associations(ns, "app")) == 0 && len(credentials(rg, "id-b", ns, "app")) == 0 && members(gsaB, ns, "app") == 0
	})
	sa = serviceAccountEventually(t, ns, "app", func(sa *corev1.ServiceAccount) error {
		if containsString(sa.Finalizers, annotations.Finalizer) {
			return fmt.Errorf("finalizer still there")
		}
		return noAnnotation(annotations.KeyStatusAWS)(sa)
	})
	_ = sa
}

// TestDeletingTheServiceAccountRemovesCloudObjects covers a ServiceAccount
// deleted by its user, and one whose namespace is deleted (by the
// namespace controller).
func TestDeletingTheServiceAccountRemovesCloudObjects(t *testing.T) {
	ns := namespace(t)
	gsa := "deleted@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	seed(t, annotations.KeyAWSRole, "deleted", annotations.KeyGCPServiceAccount, gsa)
	for _, name := range []string{"one", "two"} {
		create(t, serviceAccount(ns, name, annotated(annotations.KeyAWSRole, "deleted", annotations.KeyGCPServiceAccount, gsa)))
		serviceAccountEventually(t, ns, name, stateIs(annotations.KeyStatusGCP, "Ready"))
	}
	if err := k8s.Delete(context.Background(), serviceAccount(ns, "one")); err != nil {
		t.Fatal(err)
	}
	gone(t, ns, "one")
	if len(associations(ns, "one")) != 0 || members(gsa, ns, "one") != 0 {
		t.Errorf("cloud objects of the deleted ServiceAccount remain")
	}

	if err := k8s.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	namespaceGone(t, ns)
	if len(associations(ns, "two")) != 0 || members(gsa, ns, "two") != 0 {
		t.Errorf("cloud objects of the namespace remain")
	}
}

func TestRetainKeepsCloudObjects(t *testing.T) {
	ns := namespace(t)
	gsa := "kept-binding@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	seed(t, annotations.KeyGCPServiceAccount, gsa)
	create(t, serviceAccount(ns, "kept", annotated(annotations.KeyGCPServiceAccount, gsa, annotations.KeyDeletionPolicy, "retain")))
	serviceAccountEventually(t, ns, "kept", stateIs(annotations.KeyStatusGCP, "Ready"))
	if err := k8s.Delete(context.Background(), serviceAccount(ns, "kept")); err != nil {
		t.Fatal(err)
	}
	gone(t, ns, "kept")
	if members(gsa, ns, "kept") != 1 {
		t.Fatal("the binding was removed despite deletion-policy retain")
	}
	// It stays on record, where a policy change revokes it after its
	// ServiceAccount is gone.
	if rs := recordsOf(t, ns, "kept"); len(rs) != 1 || !rs[0].Retained {
		t.Fatalf("records %+v, want the retained binding on record", rs)
	}
	setPolicy(t, "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  existingViolations: remove\n  rules: []\n")
	waitFor(t, "the retained binding revoked", func() bool {
		return members(gsa, ns, "kept") == 0 && len(recordsOf(t, ns, "kept")) == 0
	})
}

func TestAdoptAndRefuse(t *testing.T) {
	ns := namespace(t)
	seed(t, annotations.KeyAWSRole, "mine", annotations.KeyAzureIdentity, "shared-id", annotations.KeyAzureResourceGroup, rg)
	seed(t, annotations.KeyAWSRole, "someone-elses")
	// Made by hand before Keyless: the same role, and the same issuer and subject.
	if _, err := env.Clouds.AWS.AddAssociation(devenv.ClusterName, ns, "adopted", awsRoleARN("mine"), nil); err != nil {
		t.Fatal(err)
	}
	if err := env.Clouds.Azure.PutCredential(devenv.AzureSubscription, rg, "shared-id", fakecloudCredential("by-hand", ns, "adopted")); err != nil {
		t.Fatal(err)
	}
	// Someone else's association of another ServiceAccount to another role.
	if _, err := env.Clouds.AWS.AddAssociation(devenv.ClusterName, ns, "taken", awsRoleARN("someone-elses"), nil); err != nil {
		t.Fatal(err)
	}

	create(t, serviceAccount(ns, "adopted", annotated(annotations.KeyAWSRole, "mine",
		annotations.KeyAzureIdentity, "shared-id", annotations.KeyAzureResourceGroup, rg)))
	sa := serviceAccountEventually(t, ns, "adopted", stateIs(annotations.KeyStatusAzure, "Ready"))
	serviceAccountEventually(t, ns, "adopted", stateIs(annotations.KeyStatusAWS, "Ready"))
	if n := len(associations(ns, "adopted")); n != 1 {
		t.Errorf("associations = %d, want the adopted one only", n)
	}
	if c := credentials(rg, "shared-id", ns, "adopted"); len(c) != 1 || c[0].Name != "by-hand" {
		t.Errorf("credentials = %+v, want only the adopted one", c)
	}
	_ = sa

	create(t, serviceAccount(ns, "taken", annotated(annotations.KeyAWSRole, "mine")))
	sa = serviceAccountEventually(t, ns, "taken", stateIs(annotations.KeyStatusAWS, "Error"))
	if st, _ := status(sa, annotations.KeyStatusAWS); st.Reason != "conflict" {
		t.Errorf("status = %+v, want reason conflict", st)
	}
	if a := associations(ns, "taken"); len(a) != 1 || a[0].RoleARN != awsRoleARN("someone-elses") {
		t.Errorf("the foreign association was changed: %+v", a)
	}
}

func TestDriftIsRepaired(t *testing.T) {
	ns := namespace(t)
	gsa := "drift-gsa@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	seed(t, annotations.KeyAWSRole, "drift", annotations.KeyGCPServiceAccount, gsa,
		annotations.KeyAzureIdentity, "drift", annotations.KeyAzureResourceGroup, rg)
	create(t, serviceAccount(ns, "drift", annotated(annotations.KeyAWSRole, "drift", annotations.KeyGCPServiceAccount, gsa,
		annotations.KeyAzureIdentity, "drift", annotations.KeyAzureResourceGroup, rg)))
	serviceAccountEventually(t, ns, "drift", stateIs(annotations.KeyStatusAzure, "Ready"))
	waitFor(t, "all three objects", func() bool {
		return len(associations(ns, "drift")) == 1 && len(credentials(rg, "drift", ns, "drift")) == 1 && members(gsa, ns, "drift") == 1
	})

	// Out of band: the association points elsewhere, the credential and the member are gone.
	a := associations(ns, "drift")[0]
	if err := env.Clouds.AWS.SetRole(devenv.ClusterName, a.AssociationID, awsRoleARN("intruder")); err != nil {
		t.Fatal(err)
	}
	c := credentials(rg, "drift", ns, "drift")[0]
	env.Clouds.Azure.DeleteCredential(devenv.AzureSubscription, rg, "drift", c.Name)
	p, _ := env.Clouds.GCP.Policy(gsa)
	p.Bindings = nil
	if err := env.Clouds.GCP.SetPolicy(gsa, p); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "the resync to repair the drift", func() bool {
		a := associations(ns, "drift")
		return len(a) == 1 && a[0].RoleARN == awsRoleARN("drift") &&
			len(credentials(rg, "drift", ns, "drift")) == 1 && members(gsa, ns, "drift") == 1
	})
}

// TestRestartMidBurstLosesAndDuplicatesNothing stops the controller while a
// burst of connections is being made, starts it again, and checks that every
// ServiceAccount ends with exactly one object per cloud.
func TestRestartMidBurstLosesAndDuplicatesNothing(t *testing.T) {
	ns := namespace(t)
	gsa := "burst-gsa@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	seed(t, annotations.KeyAWSRole, "burst", annotations.KeyGCPServiceAccount, gsa,
		annotations.KeyAzureIdentity, "burst", annotations.KeyAzureResourceGroup, rg)
	env.Clouds.AWS.SetFaults(fakecloud.Faults{Latency: 20 * time.Millisecond})
	env.Clouds.Azure.SetFaults(fakecloud.Faults{Latency: 20 * time.Millisecond})
	env.Clouds.GCP.SetFaults(fakecloud.Faults{Latency: 20 * time.Millisecond})
	t.Cleanup(clearFaults)

	const n = 10
	for i := range n {
		create(t, serviceAccount(ns, fmt.Sprintf("sa-%d", i), annotated(annotations.KeyAWSRole, "burst",
			annotations.KeyGCPServiceAccount, gsa, annotations.KeyAzureIdentity, "burst", annotations.KeyAzureResourceGroup, rg)))
	}
	time.Sleep(300 * time.Millisecond)
	if err := env.StopKeyless(); err != nil {
		t.Fatalf("stopping keyless: %v", err)
	}
	if err := env.StartKeyless(context.Background()); err != nil {
		t.Fatalf("restarting keyless: %v", err)
	}
	expectOnePerCloud(t, ns, n, "burst", gsa, "burst")
}

// TestConvergesUnderFaults throttles 20% of calls, fails 5% with server
// errors, forces GCP etag conflicts on 30% of writes, and puts ten
// ServiceAccounts on one Azure identity.
func TestConvergesUnderFaults(t *testing.T) {
	ns := namespace(t)
	gsa := "faulty@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	seed(t, annotations.KeyAWSRole, "faulty", annotations.KeyGCPServiceAccount, gsa,
		annotations.KeyAzureIdentity, "faulty", annotations.KeyAzureResourceGroup, rg)
	f := fakecloud.Faults{Throttle: 0.2, ServerError: 0.05, Latency: 5 * time.Millisecond}
	env.Clouds.AWS.SetFaults(f)
	env.Clouds.Azure.SetFaults(f)
	f.Conflict = 0.3
	env.Clouds.GCP.SetFaults(f)
	t.Cleanup(clearFaults)

	const n = 10
	for i := range n {
		create(t, serviceAccount(ns, fmt.Sprintf("sa-%d", i), annotated(annotations.KeyAWSRole, "faulty",
			annotations.KeyGCPServiceAccount, gsa, annotations.KeyAzureIdentity, "faulty", annotations.KeyAzureResourceGroup, rg)))
	}
	expectOnePerCloud(t, ns, n, "faulty", gsa, "faulty")
}

func expectOnePerCloud(t *testing.T, ns string, n int, role, gsa, identity string) {
	t.Helper()
	deadline := time.Now().Add(150 * time.Second)
	for i := range n {
		name := fmt.Sprintf("sa-%d", i)
		for {
			a, c, m := len(associations(ns, name)), len(credentials(rg, identity, ns, name)), members(gsa, ns, name)
			if a == 1 && c == 1 && m == 1 {
				break
			}
			if a > 1 || c > 1 || m > 1 {
				t.Fatalf("%s: duplicated cloud objects: %d associations, %d credentials, %d members", name, a, c, m)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not converge: %d associations, %d credentials, %d members", name, a, c, m)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if a := associations(ns, name); a[0].RoleARN != awsRoleARN(role) {
			t.Errorf("%s: association role %s", name, a[0].RoleARN)
		}
	}
}

func clearFaults() {
	env.Clouds.AWS.SetFaults(fakecloud.Faults{})
	env.Clouds.Azure.SetFaults(fakecloud.Faults{})
	env.Clouds.GCP.SetFaults(fakecloud.Faults{})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
