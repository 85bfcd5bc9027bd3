package admission

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// identitiesPolicy allows each cloud only identities named after the
// namespace, in enforce mode.
func identitiesPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n" +
		"    - name: own-identities\n" +
		"      awsRoles: [\"${namespace}-*\"]\n" +
		"      azureIdentities: [\"*/${namespace}-*\"]\n" +
		"      gcpServiceAccounts: [\"${namespace}-*@my-project.iam.gserviceaccount.com\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicyOnUpdate: an UPDATE is judged on the connections it adds or
// changes, in each cloud, and on none it keeps.
func TestPolicyOnUpdate(t *testing.T) {
	const (
		ownGCP     = ns + "-api@my-project.iam.gserviceaccount.com"
		foreignGCP = "payments-api@my-project.iam.gserviceaccount.com"
	)
	tests := []struct {
		name        string
		old, now    []string // annotations
		wantAllowed bool
		wantMsg     string
	}{
		{name: "Azure: changed to a foreign identity", old: []string{kAz, ns + "-api"}, now: []string{kAz, "payments-api"},
			wantMsg: `Azure identity`},
		{name: "Azure: foreign identity kept", old: []string{kAz, "payments-api"}, now: []string{kAz, "payments-api"},
			wantAllowed: true},
		{name: "Azure: changed to an own identity", old: []string{kAz, "payments-api"}, now: []string{kAz, ns + "-api"},
			wantAllowed: true},
		{name: "GCP: changed to a foreign account", old: []string{kGCP, ownGCP}, now: []string{kGCP, foreignGCP},
			wantMsg: `GCP service account`},
		{name: "GCP: foreign account kept", old: []string{kGCP, foreignGCP}, now: []string{kGCP, foreignGCP},
			wantAllowed: true},
		{name: "GCP: changed to an own account", old: []string{kGCP, foreignGCP}, now: []string{kGCP, ownGCP},
			wantAllowed: true},
		{name: "AWS kept, Azure changed to a foreign identity",
			old: []string{kAWS, "payments-api", kAz, ns + "-api"}, now: []string{kAWS, "payments-api", kAz, "payments-api"},
			wantMsg: `Azure identity`},
		{name: "Azure kept, GCP changed to a foreign account",
			old: []string{kAz, "payments-api", kGCP, ownGCP}, now: []string{kAz, "payments-api", kGCP, foreignGCP},
			wantMsg: `GCP service account`},
		{name: "GCP kept, AWS changed to a foreign role",
			old: []string{kGCP, foreignGCP, kAWS, ns + "-api"}, now: []string{kGCP, foreignGCP, kAWS, "payments-api"},
			wantMsg: `AWS role`},
		{name: "everything kept", old: []string{kAWS, "payments-api", kAz, "payments-api", kGCP, foreignGCP},
			now: []string{kAWS, "payments-api", kAz, "payments-api", kGCP, foreignGCP}, wantAllowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(nil)
			p := identitiesPolicy(t)
			h.Policy = func() *policy.Policy { return p }
			body := withOld(t, admissionReview(t, "UPDATE", deployment("app", tt.now...)), deployment("app", tt.old...))
			resp := decodeResponse(t, post(h, body), testUID)
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if !tt.wantAllowed && !strings.Contains(resp.Result.Message, tt.wantMsg) {
				t.Errorf("message %q, want it to name the %s", resp.Result.Message, tt.wantMsg)
			}
			if !tt.wantAllowed && strings.Count(resp.Result.Message, `rule "own-identities"`) != 1 {
				t.Errorf("message %q, want one violation: only the changed connection is judged", resp.Result.Message)
			}
		})
	}
}

// TestAuditOnDryRun: audit-mode violations of a dry run are not reported,
// and a handler without an Audit function admits without failing.
func TestAuditOnDryRun(t *testing.T) {
	foreign := deployment("app", annotations.KeyAWSRole, "payments-api")
	tests := []struct {
		name       string
		dryRun     bool
		noAudit    bool
		wantAudits int
	}{
		{name: "not a dry run: reported", wantAudits: 1},
		{name: "dry run: not reported", dryRun: true},
		{name: "no Audit function", noAudit: true},
		{name: "no Audit function, dry run", dryRun: true, noAudit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(nil)
			p := rolesPolicy(t, "audit")
			h.Policy = func() *policy.Policy { return p }
			audits := 0
			if !tt.noAudit {
				h.Audit = func(_, _, _ string, _ policy.Violation) { audits++ }
			}
			body := admissionReview(t, "CREATE", foreign)
			if tt.dryRun {
				body = asDryRun(t, body)
			}
			resp := decodeResponse(t, post(h, body), testUID)
			if !resp.Allowed {
				t.Fatalf("refused: %+v", resp.Result)
			}
			if audits != tt.wantAudits {
				t.Errorf("%d audits, want %d", audits, tt.wantAudits)
			}
		})
	}
}

// asDryRun sets dryRun on a review.
func asDryRun(t *testing.T, body []byte) []byte {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	r["request"].(map[string]any)["dryRun"] = true
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAzureConflicts: a ServiceAccount has at most one Azure identity, by
// its own annotations or through the workloads that run as it.
func TestAzureConflicts(t *testing.T) {
	const other = "payments-api"
	tests := []struct {
		name        string
		lookup      *fakeLookup
		obj         any
		wantAllowed bool
		wantMsg     string
	}{
		{name: "the ServiceAccount's own annotation names another identity",
			lookup:  &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": {kAz: other}}},
			obj:     runningAs(deployment("orders", kAz, "orders-api"), "orders"),
			wantMsg: `metadata.annotations[keyless.dev/azure-identity]: Forbidden: ServiceAccount orders is already connected to Azure identity "shop-rg/payments-api" by its own annotations`},
		{name: "the ServiceAccount's own annotation names the same identity",
			lookup:      &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": {kAz: "orders-api"}}},
			obj:         runningAs(deployment("orders", kAz, "orders-api"), "orders"),
			wantAllowed: true},
		{name: "the same identity in another case",
			lookup:      &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": {kAz: "Orders-API"}}},
			obj:         runningAs(deployment("orders", kAz, "orders-api"), "orders"),
			wantAllowed: true},
		{name: "the ServiceAccount has only an AWS role",
			lookup:      &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": {kAWS: awsRole}}},
			obj:         runningAs(deployment("orders", kAz, "orders-api"), "orders"),
			wantAllowed: true},
		{name: "the workload has no Azure identity, the ServiceAccount has one",
			lookup:      &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": {kAz: other}}},
			obj:         runningAs(deployment("orders", kAWS, awsRole), "orders"),
			wantAllowed: true},
		{name: "another workload names another identity",
			lookup:  &fakeLookup{users: map[string][]workload.User{"orders": {user("StatefulSet", "db", kAz, other)}}},
			obj:     runningAs(deployment("orders", kAz, "orders-api"), "orders"),
			wantMsg: `is already connected to Azure identity "shop-rg/payments-api" by StatefulSet/db`},
		{name: "another workload names the same identity",
			lookup:      &fakeLookup{users: map[string][]workload.User{"orders": {user("StatefulSet", "db", kAz, "orders-api")}}},
			obj:         runningAs(deployment("orders", kAz, "orders-api"), "orders"),
			wantAllowed: true},
		{name: "a ServiceAccount naming another identity than a workload that uses it",
			lookup:  &fakeLookup{users: map[string][]workload.User{"orders": {user("Deployment", "api", kAz, other)}}},
			obj:     serviceAccount("orders", kAz, "orders-api"),
			wantMsg: `this ServiceAccount is already connected to Azure identity "shop-rg/payments-api" by Deployment/api`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := decodeResponse(t, post(newHandler(tt.lookup), admissionReview(t, "CREATE", tt.obj)), testUID)
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if !tt.wantAllowed && !strings.Contains(resp.Result.Message, tt.wantMsg) {
				t.Errorf("message %q, want it to contain %q", resp.Result.Message, tt.wantMsg)
			}
		})
	}
}
