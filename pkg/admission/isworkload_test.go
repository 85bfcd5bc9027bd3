package admission

import (
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/workload"
)

// TestIsWorkload: a kind is a workload only in its own API group.
func TestIsWorkload(t *testing.T) {
	tests := []struct {
		group, kind string
		want        bool
	}{
		{"apps", "Deployment", true},
		{"apps", "StatefulSet", true},
		{"apps", "DaemonSet", true},
		{"batch", "Job", true},
		{"batch", "CronJob", true},
		{"apps", "Job", false},
		{"batch", "Deployment", false},
		{"", "Deployment", false},
		{"apps", "ReplicaSet", false},
	}
	for _, tt := range tests {
		if got := IsWorkload(tt.group, tt.kind); got != tt.want {
			t.Errorf("IsWorkload(%q, %q) = %t, want %t", tt.group, tt.kind, got, tt.want)
		}
	}
}

// TestServiceAccountInvalidAndConflicting: a ServiceAccount with an
// invalid annotation is denied for it, even when a valid one also
// conflicts with a workload.
func TestServiceAccountInvalidAndConflicting(t *testing.T) {
	l := &fakeLookup{users: map[string][]workload.User{"orders": {user("Deployment", "api", kAWS, awsRole2)}}}
	resp := decodeResponse(t, post(newHandler(l), admissionReview(t, "CREATE", serviceAccount("orders", kAWS, awsRole, kGCP, "Not-An-Email"))), testUID)
	if resp.Allowed || !strings.Contains(resp.Result.Message, "keyless.dev/gcp-service-account") {
		t.Errorf("allowed %t (%+v); want a denial for keyless.dev/gcp-service-account", resp.Allowed, resp.Result)
	}
}
