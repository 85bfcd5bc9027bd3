package deploy

import (
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// decode turns an object of install.yaml into its typed form, strictly.
func decode(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	raw, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, into); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// expressions returns every CEL expression of a policy, in one string.
func expressions(p *admissionregistrationv1.ValidatingAdmissionPolicy) string {
	var all []string
	for _, c := range p.Spec.MatchConditions {
		all = append(all, c.Expression)
	}
	for _, v := range p.Spec.Variables {
		all = append(all, v.Expression)
	}
	for _, v := range p.Spec.Validations {
		all = append(all, v.Expression)
	}
	return strings.Join(all, "\n")
}

// TestAdmissionPolicies checks what the CEL cannot check by itself: that
// the policies are bound and deny, and that the names they compare with
// are those of the rest of deploy/ and of the Go code. The e2e tests apply
// them to a real API server and check what they let through.
func TestAdmissionPolicies(t *testing.T) {
	sa := installed(t, "ServiceAccount", "keyless")
	if got := str(installed(t, "Deployment", "keyless"), "spec", "template", "spec", "serviceAccountName"); got != sa.GetName() {
		t.Fatalf("the Deployment runs as %q, not ServiceAccount %s", got, sa.GetName())
	}
	keylessUser := "'system:serviceaccount:" + sa.GetNamespace() + ":" + sa.GetName() + "'"

	tests := []struct {
		name     string
		mentions []string
	}{
		// The authorizer check names the binding that an admin could delete.
		{"keyless-finalizer", []string{keylessUser, "'" + annotations.Finalizer + "'", ".name('keyless-finalizer')"}},
		{"keyless-own-writes", []string{keylessUser, "'" + annotations.Finalizer + "'", "'" + annotations.KeyRestartedAt + "'",
			"'" + annotations.Prefix + "'", "'keyless.dev/record'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p admissionregistrationv1.ValidatingAdmissionPolicy
			decode(t, installed(t, "ValidatingAdmissionPolicy", tt.name), &p)
			if p.Spec.FailurePolicy == nil || *p.Spec.FailurePolicy != admissionregistrationv1.Fail {
				t.Error("failurePolicy is not Fail")
			}
			for _, v := range p.Spec.Validations {
				if v.Message == "" || v.Reason == nil || *v.Reason != "Forbidden" {
					t.Errorf("validation %q: no message, or reason is not Forbidden", v.Expression)
				}
			}
			exprs := expressions(&p)
			for _, m := range tt.mentions {
				if !strings.Contains(exprs, m) {
					t.Errorf("no expression mentions %s", m)
				}
			}

			var b admissionregistrationv1.ValidatingAdmissionPolicyBinding
			decode(t, installed(t, "ValidatingAdmissionPolicyBinding", tt.name), &b)
			if b.Spec.PolicyName != tt.name || !slices.Equal(b.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}) {
				t.Errorf("binding %s: policy %q, actions %v; want %s, [Deny]", b.Name, b.Spec.PolicyName, b.Spec.ValidationActions, tt.name)
			}
			if b.Spec.MatchResources != nil || b.Spec.ParamRef != nil {
				t.Errorf("binding %s narrows the policy: %+v", b.Name, b.Spec)
			}
		})
	}
}

// TestOwnWritesCoverEveryWorkloadKind keeps keyless-own-writes in step with
// the webhook: every kind of workload that Keyless handles is one whose
// updates by Keyless the policy limits.
func TestOwnWritesCoverEveryWorkloadKind(t *testing.T) {
	var p admissionregistrationv1.ValidatingAdmissionPolicy
	decode(t, installed(t, "ValidatingAdmissionPolicy", "keyless-own-writes"), &p)
	limited := map[string]bool{}
	for _, r := range p.Spec.MatchConstraints.ResourceRules {
		if slices.Contains(r.Operations, admissionregistrationv1.Update) {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					limited[g+"/"+res] = true
				}
			}
		}
	}
	var wh admissionregistrationv1.MutatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(WebhookConfiguration, &wh); err != nil {
		t.Fatal(err)
	}
	for _, w := range wh.Webhooks {
		for _, r := range w.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					if !limited[g+"/"+res] {
						t.Errorf("webhook %s handles %s.%s, whose updates by Keyless keyless-own-writes does not limit", w.Name, res, g)
					}
				}
			}
		}
	}
}
