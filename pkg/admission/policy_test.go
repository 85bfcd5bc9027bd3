package admission

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/policy"
)

func rolesPolicy(t *testing.T, mode string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n" +
		"    - name: own-roles\n      mode: " + mode + "\n      awsRoles: [\"${namespace}-*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withOld adds oldObject to an UPDATE review.
func withOld(t *testing.T, body []byte, old any) []byte {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	r["request"].(map[string]any)["oldObject"] = json.RawMessage(raw)
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPolicyAtAdmission(t *testing.T) {
	foreign := deployment("app", annotations.KeyAWSRole, "payments-api")
	own := deployment("app", annotations.KeyAWSRole, ns+"-api")
	tests := []struct {
		name        string
		mode        string
		body        func(t *testing.T) []byte
		wantAllowed bool
		wantMsg     string
		wantWarning string
		wantAudits  int
	}{
		{"enforce denies and names the rule", "enforce", func(t *testing.T) []byte { return admissionReview(t, "CREATE", foreign) },
			false, `rule "own-roles": AWS role "payments-api" is not allowed in namespace "shop"`, "", 0},
		{"enforce admits what the policy allows", "enforce", func(t *testing.T) []byte { return admissionReview(t, "CREATE", own) },
			true, "", "", 0},
		{"warn admits with a warning", "warn", func(t *testing.T) []byte { return admissionReview(t, "CREATE", foreign) },
			true, "", `keyless policy (warn): rule "own-roles"`, 0},
		{"audit admits and reports", "audit", func(t *testing.T) []byte { return admissionReview(t, "CREATE", foreign) },
			true, "", "", 1},
		{"an update that keeps an existing connection is not judged", "enforce", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", foreign), foreign)
		}, true, "", "", 0},
		{"an update that changes the connection is judged", "enforce", func(t *testing.T) []byte {
			return withOld(t, admissionReview(t, "UPDATE", foreign), own)
		}, false, `rule "own-roles"`, "", 0},
		{"a ServiceAccount is judged too", "enforce", func(t *testing.T) []byte {
			return admissionReview(t, "CREATE", serviceAccount("sa", annotations.KeyAWSRole, "payments-api"))
		}, false, `rule "own-roles"`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(nil)
			p := rolesPolicy(t, tt.mode)
			h.Policy = func() *policy.Policy { return p }
			audits := 0
			h.Audit = func(_, _, _ string, v policy.Violation) {
				if v.Rule == "own-roles" {
					audits++
				}
			}
			resp := decodeResponse(t, post(h, tt.body(t)), testUID)
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if tt.wantMsg != "" && (resp.Result == nil || !strings.Contains(resp.Result.Message, tt.wantMsg)) {
				t.Errorf("message = %+v, want it to contain %q", resp.Result, tt.wantMsg)
			}
			if tt.wantWarning != "" && (len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], tt.wantWarning)) {
				t.Errorf("warnings = %q, want one containing %q", resp.Warnings, tt.wantWarning)
			}
			if tt.wantWarning == "" && len(resp.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", resp.Warnings)
			}
			if audits != tt.wantAudits {
				t.Errorf("audits = %d, want %d", audits, tt.wantAudits)
			}
		})
	}
}

func TestPolicyUniqueIdentityAtAdmission(t *testing.T) {
	// The same role as the reviewed "shop-api", by ARN in the cluster's account.
	key := policy.IdentityKey(policy.CloudAWS, annotations.Connections{AWS: &annotations.AWSRole{
		Partition: "aws", Account: testCluster.AWSAccount, Path: "/team/", Name: "Shop-API"}}, testCluster)
	h := newHandler(&fakeLookup{bindings: map[string][]string{key: {"shop/other", "shop/app"}}})
	p, err := policy.Parse([]byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n    - name: unique\n      uniqueIdentity: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	h.Policy = func() *policy.Policy { return p }
	resp := decodeResponse(t, post(h, admissionReview(t, "CREATE", deployment("app", annotations.KeyAWSRole, "shop-api"))), testUID)
	if resp.Allowed || !strings.Contains(resp.Result.Message, "shop/other") || strings.Contains(resp.Result.Message, "shop/app,") {
		t.Errorf("response = %+v; want a denial naming shop/other only", resp.Result)
	}
}

// TestPolicyNamespaceOwnershipAtAdmission: the webhook tells the policy
// which namespaces exist, so that a longer namespace keeps its identities.
func TestPolicyNamespaceOwnershipAtAdmission(t *testing.T) {
	tests := []struct {
		name       string
		lookup     *fakeLookup
		role       string
		wantCode   int32
		wantReason string
	}{
		{"own role", &fakeLookup{namespaces: []string{ns, ns + "-prod"}}, ns + "-api", http.StatusOK, ""},
		{"longer namespace's role", &fakeLookup{namespaces: []string{ns, ns + "-prod"}}, ns + "-prod-admin", http.StatusForbidden,
			`belongs to namespace "shop-prod"`},
		{"longer namespace not created yet", &fakeLookup{namespaces: []string{ns}}, ns + "-prod-admin", http.StatusOK, ""},
		{"role in another account", &fakeLookup{}, "arn:aws:iam::999999999999:role/" + ns + "-api", http.StatusForbidden,
			"only in the cluster's AWS account"},
		{"namespaces unreadable", &fakeLookup{namespacesErr: errors.New("cache not started")}, ns + "-api", http.StatusInternalServerError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(tt.lookup)
			h.Policy = policy.Default
			resp := decodeResponse(t, post(h, admissionReview(t, "CREATE", deployment("app", annotations.KeyAWSRole, tt.role))), testUID)
			code := int32(http.StatusOK)
			if resp.Result != nil && resp.Result.Code != 0 {
				code = resp.Result.Code
			}
			if code != tt.wantCode {
				t.Fatalf("code = %d, want %d (%+v)", code, tt.wantCode, resp.Result)
			}
			if tt.wantReason != "" && !strings.Contains(resp.Result.Message, tt.wantReason) {
				t.Errorf("message = %q, want it to contain %q", resp.Result.Message, tt.wantReason)
			}
		})
	}
}
