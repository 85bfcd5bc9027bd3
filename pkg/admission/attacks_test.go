package admission

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/policy"
)

// Attacks by a tenant who may edit workloads and ServiceAccounts in one
// namespace, and the failure paths that must not block Keyless's own
// writes. Each case is a row of docs/security.md's attack table.

func TestAttackDefaultServiceAccount(t *testing.T) {
	plain := serviceAccount("default", annotations.KeyAWSRole, ns+"-api")
	other := serviceAccount("default", annotations.KeyAWSRole, ns+"-other")
	unannotated := serviceAccount("default")
	tests := []struct {
		name        string
		body        func(t *testing.T) []byte
		wantAllowed bool
	}{
		{"annotating default at creation is denied", func(t *testing.T) []byte {
			return admissionReview(t, "CREATE", plain)
		}, false},
		{"annotating the existing default is denied", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", plain), unannotated)
		}, false},
		{"switching default's identity is denied", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", other), plain)
		}, false},
		{"an update that leaves an old connection alone is allowed, so the controller can clean it up", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", plain), plain)
		}, true},
		{"removing the connection is allowed", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", unannotated), plain)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := decodeResponse(t, post(newHandler(nil), tt.body(t)), testUID)
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if !tt.wantAllowed && !strings.Contains(resp.Result.Message, `does not connect a namespace's "default" ServiceAccount`) {
				t.Errorf("message %q does not say why", resp.Result.Message)
			}
		})
	}
}

func TestAttackRequireConnectionRemovedByUpdate(t *testing.T) {
	p, err := policy.Parse([]byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n" +
		"    - name: need-one\n      requireConnection: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	connected := deployment("app", annotations.KeyAWSRole, ns+"-api")
	bare := deployment("app")
	tests := []struct {
		name        string
		body        func(t *testing.T) []byte
		wantAllowed bool
	}{
		{"create without a connection", func(t *testing.T) []byte { return admissionReview(t, "CREATE", bare) }, false},
		{"update removing the connection", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", bare), connected)
		}, false},
		{"update keeping the connection", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", connected), connected)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(nil)
			h.Policy = func() *policy.Policy { return p }
			resp := decodeResponse(t, post(h, tt.body(t)), testUID)
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if !tt.wantAllowed && !strings.Contains(resp.Result.Message, `rule "need-one"`) {
				t.Errorf("message %q does not name the rule", resp.Result.Message)
			}
		})
	}
}

// After a configuration change (the default resource group removed), the
// annotations of an existing ServiceAccount no longer parse. Keyless's own
// finalizer removal and status writes must still pass, or deletions hang.
func TestKeylessWritesNotDeniedForOldAnnotations(t *testing.T) {
	invalid := func(finalizers ...string) any {
		sa := serviceAccount("app", annotations.KeyAzureIdentity, "shop-id")
		sa.Finalizers = finalizers
		return sa
	}
	terminating := func(finalizers ...string) any {
		sa := serviceAccount("app", annotations.KeyAzureIdentity, "shop-id")
		sa.Finalizers = finalizers
		sa.DeletionTimestamp = &metav1.Time{}
		return sa
	}
	changed := serviceAccount("app", annotations.KeyAzureIdentity, "shop-other")
	tests := []struct {
		name        string
		body        func(t *testing.T) []byte
		wantAllowed bool
	}{
		{"finalizer removal on a terminating object", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", terminating()), terminating(annotations.Finalizer))
		}, true},
		{"status write that leaves the keyless.dev annotations alone", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", invalid(annotations.Finalizer)), invalid())
		}, true},
		{"an update that changes them to something invalid is still denied", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", changed), invalid())
		}, false},
		{"a create is still denied", func(t *testing.T) []byte {
			return admissionReview(t, "CREATE", invalid())
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(nil)
			h.Options.Parse.AzureDefaultResourceGroup = "" // the configuration change
			resp := decodeResponse(t, post(h, tt.body(t)), testUID)
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if tt.wantAllowed && resp.Patch != nil {
				t.Errorf("patch %s, want none", resp.Patch)
			}
		})
	}
}

// `kubectl replace -f` of the manifest as written, after Keyless restarted
// the workload, must not drop keyless.dev/restarted-at: that would change
// the pod template and roll the workload out a second time.
func TestRestartedAtCarriedOverOnReplace(t *testing.T) {
	const stamp = "2026-12-06T01:00:00Z"
	written := func() any {
		return runningAs(deployment("app", annotations.KeyAWSRole, ns+"-api"), "app")
	}
	restarted := runningAs(deployment("app", annotations.KeyAWSRole, ns+"-api"), "app")
	restarted.Spec.Template.Annotations = map[string]string{annotations.KeyRestartedAt: stamp, "other": "x"}
	withOther := runningAs(deployment("app", annotations.KeyAWSRole, ns+"-api"), "app")
	withOther.Spec.Template.Annotations = map[string]string{"mine": "y"}
	tests := []struct {
		name string
		obj  any
		want string
	}{
		{"template without annotations", written(), `{"op":"add","path":"/spec/template/metadata/annotations","value":{"keyless.dev/restarted-at":"` + stamp + `"}}`},
		{"template with other annotations", withOther, `{"op":"add","path":"/spec/template/metadata/annotations/keyless.dev~1restarted-at","value":"` + stamp + `"}`},
		{"template that kept it", restarted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := withOld(t, admissionReview(t, "UPDATE", tt.obj), restarted)
			resp := decodeResponse(t, post(newHandler(nil), body), testUID)
			if !resp.Allowed {
				t.Fatalf("denied: %+v", resp.Result)
			}
			var ops []json.RawMessage
			if resp.Patch != nil {
				if err := json.Unmarshal(resp.Patch, &ops); err != nil {
					t.Fatal(err)
				}
			}
			found := false
			for _, op := range ops {
				if string(op) == tt.want {
					found = true
				}
				if tt.want == "" && strings.Contains(string(op), "restarted-at") {
					t.Errorf("unexpected operation %s", op)
				}
			}
			if tt.want != "" && !found {
				t.Errorf("patch %s, want it to contain %s", resp.Patch, tt.want)
			}
		})
	}
}

// Adding deletion-policy: retain to an existing connection is judged like
// a new connection: the policy decides who may keep objects.
func TestAttackRetainAddedByUpdate(t *testing.T) {
	p, err := policy.Parse([]byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	plain := serviceAccount("app", annotations.KeyAWSRole, ns+"-api")
	retained := serviceAccount("app", annotations.KeyAWSRole, ns+"-api", annotations.KeyDeletionPolicy, "retain")
	h := newHandler(nil)
	h.Policy = func() *policy.Policy { return p }
	resp := decodeResponse(t, post(h, withOld(t, admissionReview(t, "UPDATE", retained), plain)), testUID)
	if resp.Allowed || !strings.Contains(resp.Result.Message, "allowRetain") {
		t.Errorf("allowed = %t (%+v), want a denial naming allowRetain", resp.Allowed, resp.Result)
	}
	resp = decodeResponse(t, post(h, withOld(t, admissionReview(t, "UPDATE", retained), retained)), testUID)
	if !resp.Allowed {
		t.Errorf("an update that leaves an earlier retain alone is denied: %+v", resp.Result)
	}
}

// An update that leaves the annotations alone but runs the pods as another
// ServiceAccount gives the connections to that ServiceAccount: they are
// new there, and judged as at creation.
func TestAttackServiceAccountSwitchedByUpdate(t *testing.T) {
	p, err := policy.Parse([]byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n" +
		"    - name: per-serviceaccount\n      awsRoles: [\"${namespace}-${serviceAccount}\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	asAPI := runningAs(deployment("app", kAWS, ns+"-api"), "api")
	asBilling := runningAs(deployment("app", kAWS, ns+"-api"), "billing")
	tests := []struct {
		name        string
		body        func(t *testing.T) []byte
		wantAllowed bool
	}{
		{"created to run as billing: denied", func(t *testing.T) []byte {
			return admissionReview(t, "CREATE", asBilling)
		}, false},
		{"updated from api to billing: denied", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", asBilling), asAPI)
		}, false},
		{"updated, still as api: allowed", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", asAPI), asAPI)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(nil)
			h.Policy = func() *policy.Policy { return p }
			resp := decodeResponse(t, post(h, tt.body(t)), testUID)
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if !tt.wantAllowed && !strings.Contains(resp.Result.Message, `rule "per-serviceaccount"`) {
				t.Errorf("message %q does not name the rule", resp.Result.Message)
			}
		})
	}
}

// A workload named "default" (or generated from "default-") whose pods
// would run as a ServiceAccount named after it: the namespace's "default"
// ServiceAccount, which every pod without one runs as.
func TestAttackWorkloadNamedDefault(t *testing.T) {
	named := deployment("default", kAWS, ns+"-api")
	generated := deployment("", kAWS, ns+"-api")
	generated.GenerateName = "default-"
	for _, d := range []*metav1.ObjectMeta{&named.ObjectMeta, &generated.ObjectMeta} {
		t.Run(d.Name+d.GenerateName, func(t *testing.T) {
			obj := named
			if d.GenerateName != "" {
				obj = generated
			}
			resp := decodeResponse(t, post(newHandler(nil), admissionReview(t, "CREATE", obj)), testUID)
			if resp.Allowed || !strings.Contains(resp.Result.Message, `must run as its own ServiceAccount, not "default"`) {
				t.Errorf("answer %+v, want a denial that says why", resp.Result)
			}
		})
	}
}
