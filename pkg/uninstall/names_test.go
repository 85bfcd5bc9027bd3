package uninstall

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/pkg/annotations"
)

// TestNamesMatchTheInstallManifest checks that uninstall acts on the
// objects deploy/install.yaml creates.
func TestNamesMatchTheInstallManifest(t *testing.T) {
	objs := map[string]*unstructured.Unstructured{}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(deploy.Install), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decoding install.yaml: %v", err)
		}
		if u.Object != nil {
			objs[u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName()] = u
		}
	}
	for _, key := range []string{
		"Deployment/" + Namespace + "/" + DeploymentName,
		"MutatingWebhookConfiguration//" + WebhookConfigurationName,
	} {
		if objs[key] == nil {
			t.Errorf("install.yaml has no %s", key)
		}
	}
	// The policy that guards the finalizer, once install.yaml has
	// admission policies at all.
	guard := objs["ValidatingAdmissionPolicy//"+FinalizerPolicyName]
	for key, u := range objs {
		if u.GetKind() == "ValidatingAdmissionPolicy" && guard == nil {
			t.Errorf("install.yaml has %s but no ValidatingAdmissionPolicy %s, which uninstall deletes", key, FinalizerPolicyName)
		}
	}
	if guard != nil {
		spec, _, _ := unstructured.NestedFieldNoCopy(guard.Object, "spec")
		if !strings.Contains(toString(spec), annotations.Finalizer) {
			t.Errorf("ValidatingAdmissionPolicy %s does not mention %s", FinalizerPolicyName, annotations.Finalizer)
		}
		if objs["ValidatingAdmissionPolicyBinding//"+FinalizerPolicyName] == nil {
			t.Errorf("install.yaml has no ValidatingAdmissionPolicyBinding %s", FinalizerPolicyName)
		}
	}
}

func toString(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x + "\n")
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}
