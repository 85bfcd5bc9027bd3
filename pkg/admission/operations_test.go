package admission

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/workload"
)

// TestOtherOperationsPassUnchanged: only CREATE and UPDATE are decided; any
// other operation is admitted without a patch, even with an object.
func TestOtherOperationsPassUnchanged(t *testing.T) {
	for _, op := range []string{"DELETE", "CONNECT"} {
		t.Run(op, func(t *testing.T) {
			body := admissionReview(t, "CREATE", deployment("orders", kAWS, awsRole))
			var r map[string]any
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			r["request"].(map[string]any)["operation"] = op
			body, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			resp := decodeResponse(t, post(newHandler(nil), body), testUID)
			if !resp.Allowed || resp.Patch != nil {
				t.Errorf("allowed %t, patch %s; want allowed without a patch", resp.Allowed, resp.Patch)
			}
		})
	}
}

// TestConflictAfterUnparsableUser: a workload whose annotations do not
// parse is skipped, and the workloads after it are still checked.
func TestConflictAfterUnparsableUser(t *testing.T) {
	l := &fakeLookup{users: map[string][]workload.User{"orders": {
		user("Deployment", "broken", kGCP, "Not-An-Email"),
		user("Deployment", "other", kGCP, gcpOther),
	}}}
	resp := decodeResponse(t, post(newHandler(l), admissionReview(t, "CREATE", runningAs(deployment("orders", kGCP, gcpEmail), "orders"))), testUID)
	if resp.Allowed || !strings.Contains(resp.Result.Message, "by Deployment/other") {
		t.Errorf("allowed %t (%+v); want a denial naming Deployment/other", resp.Allowed, resp.Result)
	}
}
