package deploy

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func str(u *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, path...)
	return s
}

// TestCertificateChain follows the webhook's serving certificate to the CA
// that the API server trusts: the injected CA must be a CA that signs the
// serving certificate, not the serving certificate itself, so that renewing
// the latter leaves the API server's trust untouched.
func TestCertificateChain(t *testing.T) {
	wh := installed(t, "MutatingWebhookConfiguration", "keyless")
	injected := wh.GetAnnotations()["cert-manager.io/inject-ca-from"]
	if injected != "keyless-system/keyless-ca" {
		t.Fatalf("cert-manager.io/inject-ca-from = %q, want keyless-system/keyless-ca", injected)
	}

	ca := installed(t, "Certificate", "keyless-ca")
	if isCA, _, _ := unstructured.NestedBool(ca.Object, "spec", "isCA"); !isCA {
		t.Error("Certificate keyless-ca: isCA is not true")
	}
	if d, err := time.ParseDuration(str(ca, "spec", "duration")); err != nil || d < 5*365*24*time.Hour {
		t.Errorf("Certificate keyless-ca: duration %q, want at least five years", str(ca, "spec", "duration"))
	}
	if got := str(ca, "spec", "privateKey", "rotationPolicy"); got != "Never" {
		t.Errorf("Certificate keyless-ca: privateKey.rotationPolicy %q, want Never (a renewed CA keeps verifying the leaves it signed)", got)
	}
	root := installed(t, "Issuer", str(ca, "spec", "issuerRef", "name"))
	if _, ok, _ := unstructured.NestedMap(root.Object, "spec", "selfSigned"); !ok || str(ca, "spec", "issuerRef", "kind") != "Issuer" {
		t.Errorf("Certificate keyless-ca is issued by %s %s, want a selfSigned Issuer",
			str(ca, "spec", "issuerRef", "kind"), root.GetName())
	}

	leaf := installed(t, "Certificate", "keyless-webhook-cert")
	if kind := str(leaf, "spec", "issuerRef", "kind"); kind != "Issuer" {
		t.Fatalf("Certificate keyless-webhook-cert: issuerRef.kind %q, want Issuer", kind)
	}
	issuer := installed(t, "Issuer", str(leaf, "spec", "issuerRef", "name"))
	if got, want := str(issuer, "spec", "ca", "secretName"), str(ca, "spec", "secretName"); got == "" || got != want {
		t.Errorf("Certificate keyless-webhook-cert is issued by Issuer %s with CA Secret %q, want the Secret of keyless-ca (%q)",
			issuer.GetName(), got, want)
	}
	if isCA, _, _ := unstructured.NestedBool(leaf.Object, "spec", "isCA"); isCA {
		t.Error("Certificate keyless-webhook-cert: isCA is true")
	}

	// The leaf serves the webhook: its Secret is what the pods mount, and its
	// names are those of the Service the API server calls.
	volumes, _, _ := unstructured.NestedSlice(installed(t, "Deployment", "keyless").Object, "spec", "template", "spec", "volumes")
	var mounted []string
	for _, v := range volumes {
		s, _, _ := unstructured.NestedString(v.(map[string]any), "secret", "secretName")
		mounted = append(mounted, s)
	}
	if s := str(leaf, "spec", "secretName"); !slices.Contains(mounted, s) {
		t.Errorf("the Deployment mounts Secrets %v, not the serving certificate's %q", mounted, s)
	}
	if slices.Contains(mounted, str(ca, "spec", "secretName")) {
		t.Error("the Deployment mounts the CA's Secret, whose private key it does not need")
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(leaf.Object, "spec", "dnsNames")
	svc := installed(t, "Service", "keyless-webhook")
	if want := svc.GetName() + "." + svc.GetNamespace() + ".svc"; !slices.Contains(dnsNames, want) {
		t.Errorf("Certificate keyless-webhook-cert: dnsNames %v lack %s", dnsNames, want)
	}
}
