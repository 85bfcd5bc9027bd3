package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// certManagerModule ships cert-manager's CRDs under deploy/crds.
const certManagerModule = "github.com/cert-manager/cert-manager@v1.21.2"

// certManagerCRDs downloads the cert-manager module through the Go module
// proxy (or finds it in the module cache) and returns its CRD folder.
func certManagerCRDs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", certManagerModule).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", certManagerModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s gave no folder: %v %s", certManagerModule, err, out)
	}
	return filepath.Join(mod.Dir, "deploy", "crds")
}

// TestInstallManifestAppliesToARealAPIServer applies deploy/install.yaml,
// server-side and for real, to its own API server that has cert-manager's
// CRDs, and fails on any rejection.
func TestInstallManifestAppliesToARealAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second control plane")
	}
	own := &envtest.Environment{
		BinaryAssetsDirectory: assetsDir(),
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: []string{certManagerCRDs(t)}, ErrorIfPathMissing: true},
	}
	cfg, err := own.Start()
	if err != nil {
		t.Fatalf("starting a control plane: %v", err)
	}
	t.Cleanup(func() { _ = own.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	objs, err := devenv.DecodeBytes(deploy.Install)
	if err != nil {
		t.Fatalf("decoding install.yaml: %v", err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		if err := c.Patch(context.Background(), o, client.Apply, client.FieldOwner("keyless-install-test"),
			client.ForceOwnership, client.FieldValidation("Strict")); err != nil {
			t.Errorf("server-side apply of %s %s/%s was rejected: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
		"Deployment", "PodDisruptionBudget", "Service", "Issuer", "Certificate", "MutatingWebhookConfiguration"} {
		if kinds[k] == 0 {
			t.Errorf("install.yaml has no %s", k)
		}
	}

	wh := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "keyless"}, wh); err != nil {
		t.Fatalf("reading the applied webhook configuration: %v", err)
	}
	if wh.Annotations["cert-manager.io/inject-ca-from"] != "keyless-system/keyless-webhook-cert" {
		t.Errorf("webhook configuration lacks the CA-injection annotation: %v", wh.Annotations)
	}
	cert := &unstructured.Unstructured{}
	cert.SetGroupVersionKind(schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"})
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "keyless-system", Name: "keyless-webhook-cert"}, cert); err != nil {
		t.Errorf("reading the applied Certificate: %v", err)
	}
}
