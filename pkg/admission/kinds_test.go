package admission

import "testing"

// TestOtherKindsPassUnchanged: objects that are neither a ServiceAccount
// nor a workload are admitted without a patch, Keyless annotations or not.
func TestOtherKindsPassUnchanged(t *testing.T) {
	for _, op := range []string{"CREATE", "UPDATE"} {
		t.Run(op, func(t *testing.T) {
			body := admissionReview(t, op, configMap("orders", kAWS, awsRole))
			resp := decodeResponse(t, post(newHandler(nil), body), testUID)
			if !resp.Allowed || resp.Patch != nil || len(resp.Warnings) > 0 {
				t.Errorf("allowed %t, patch %s, warnings %q; want allowed as it is", resp.Allowed, resp.Patch, resp.Warnings)
			}
		})
	}
}
