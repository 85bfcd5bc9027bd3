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
		// Patch with client.Apply rather than Client.Apply, whose options have no field validation.
		if err := c.Patch(context.Background(), o, client.Apply, client.FieldOwner("keyless-install-test"), //nolint:staticcheck // see the comment above
			client.ForceOwnership, client.FieldValidation("Strict")); err != nil {
			t.Errorf("server-side apply of %s %s/%s was rejected: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
		"Deployment", "PodDisruptionBudget", "Service", "NetworkPolicy", "Issuer", "Certificate",
		"MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		if kinds[k] == 0 {
			t.Errorf("install.yaml has no %s", k)
		}
	}

	// As the API server stores them: the injected CA is a CA, and it signs
	// the serving certificate (see deploy/chart/keyless/templates/certificate.yaml).
	wh := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "keyless"}, wh); err != nil {
		t.Fatalf("reading the applied webhook configuration: %v", err)
	}
	injected := wh.Annotations["cert-manager.io/inject-ca-from"]
	if injected != "keyless-system/keyless-ca" {
		t.Errorf("the webhook configuration injects the CA of %q, want keyless-system/keyless-ca: %v", injected, wh.Annotations)
	}
	ca := certManagerObject(t, c, "Certificate", "keyless-ca")
	if isCA, _, _ := unstructured.NestedBool(ca.Object, "spec", "isCA"); !isCA {
		t.Error("Certificate keyless-ca is not a CA")
	}
	leaf := certManagerObject(t, c, "Certificate", "keyless-webhook-cert")
	issuerName, _, _ := unstructured.NestedString(leaf.Object, "spec", "issuerRef", "name")
	issuer := certManagerObject(t, c, "Issuer", issuerName)
	caSecret, _, _ := unstructured.NestedString(ca.Object, "spec", "secretName")
	if s, _, _ := unstructured.NestedString(issuer.Object, "spec", "ca", "secretName"); s == "" || s != caSecret {
		t.Errorf("the serving certificate's Issuer %s signs with Secret %q, want the CA's %q", issuerName, s, caSecret)
	}
}

// certManagerObject reads a cert-manager.io/v1 object of keyless-system.
func certManagerObject(t *testing.T, c client.Client, kind, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: kind})
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "keyless-system", Name: name}, u); err != nil {
		t.Fatalf("reading the applied %s %s: %v", kind, name, err)
	}
	return u
}
