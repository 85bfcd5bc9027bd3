package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// keylessUser is the user name of Keyless's ServiceAccount in deploy/.
const keylessUser = "system:serviceaccount:keyless-system:keyless"

// guardedCluster is a control plane of its own with the RBAC and the
// ValidatingAdmissionPolicies of deploy/install.yaml, and no Keyless
// running: nothing but the test touches finalizers or workloads there.
type guardedCluster struct {
	env *envtest.Environment
	// admin is in system:masters; keyless impersonates Keyless's
	// ServiceAccount; tenant may edit ServiceAccounts in tenantNS only;
	// clusterAdmin is bound to cluster-admin without being in
	// system:masters (as on GKE or EKS).
	admin, keyless, tenant, clusterAdmin client.Client
	tenantNS                             string
}

// installKinds are the objects of install.yaml applied: the webhook (no
// server here), the Deployment and cert-manager's objects are left out.
var installKinds = []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
	"ConfigMap", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

func startGuardedCluster(t *testing.T) *guardedCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a second control plane")
	}
	g := &guardedCluster{env: &envtest.Environment{BinaryAssetsDirectory: assetsDir()}}
	cfg, err := g.env.Start()
	if err != nil {
		t.Fatalf("starting a control plane: %v", err)
	}
	t.Cleanup(func() { _ = g.env.Stop() })
	g.admin = newClient(t, cfg)

	objs, err := devenv.DecodeBytes(deploy.Install)
	if err != nil {
		t.Fatalf("decoding install.yaml: %v", err)
	}
	ctx := context.Background()
	for _, o := range objs {
		if !slices.Contains(installKinds, o.GetKind()) {
			continue
		}
		if err := g.admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("keyless-guards-test"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}

	keylessCfg := rest.CopyConfig(cfg)
	keylessCfg.Impersonate = rest.ImpersonationConfig{UserName: keylessUser}
	g.keyless = newClient(t, keylessCfg)

	g.tenantNS = "team-a"
	g.create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: g.tenantNS}})
	// What the edit ClusterRole grants on ServiceAccounts: edit itself is
	// filled in by kube-controller-manager, which envtest does not run.
	g.create(t, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: g.tenantNS, Name: "tenant-edit"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts"},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}}},
	})
	g.create(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: g.tenantNS, Name: "tenant-edit"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "tenant-edit"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "tenant"}},
	})
	g.tenant = g.user(t, "tenant")
	g.create(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "platform-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "platform-admin"}},
	})
	g.clusterAdmin = g.user(t, "platform-admin")
	g.waitForPolicies(t)
	return g
}

// waitForPolicies returns once the API server enforces both policies (it
// loads them asynchronously), probing with dry runs that each must deny.
// That needs the ValidatingAdmissionPolicy admission plugin, on by default
// since Kubernetes 1.30.
func (g *guardedCluster) waitForPolicies(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	probe := serviceAccount(g.tenantNS, "probe", func(o client.Object) {
		controllerutil.AddFinalizer(o, annotations.Finalizer)
	})
	g.create(t, probe)
	unfinalized := probe.DeepCopy()
	unfinalized.Finalizers = nil
	unlabelled := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "keyless-system", Name: "probe"}}
	eventually(t, 30*time.Second, func() error {
		err := g.tenant.Update(ctx, unfinalized.DeepCopy(), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "keyless-finalizer") {
			return fmt.Errorf("policy keyless-finalizer not enforced yet (is the ValidatingAdmissionPolicy admission plugin on?): %v", err)
		}
		err = g.keyless.Create(ctx, unlabelled.DeepCopy(), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "keyless-own-writes") {
			return fmt.Errorf("policy keyless-own-writes not enforced yet (is the ValidatingAdmissionPolicy admission plugin on?): %v", err)
		}
		return nil
	})
}

// user returns a client that authenticates as name, with a client
// certificate and no groups but system:authenticated.
func (g *guardedCluster) user(t *testing.T, name string) client.Client {
	t.Helper()
	u, err := g.env.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		t.Fatalf("adding user %s: %v", name, err)
	}
	return newClient(t, u.Config())
}

func (g *guardedCluster) create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := g.admin.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
