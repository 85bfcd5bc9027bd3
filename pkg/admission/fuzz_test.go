package admission

import (
	"encoding/json"
	"net/http"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// fuzzLookup makes the fuzzed reviews reach the conflict checks: the
// ServiceAccount "orders" has an owner's role and a workload using it.
func fuzzLookup() *fakeLookup {
	return &fakeLookup{
		serviceAccounts: map[string]map[string]string{"orders": {kAWS: awsRole2, kGCP: gcpEmail, kProp: "gcp-service-account"}},
		users:           map[string][]workload.User{"orders": {user("Deployment", "other", kGCP, gcpOther)}},
	}
}

// FuzzHandler posts arbitrary bodies: the handler never panics, answers
// 400 to what is not an admission.k8s.io/v1 AdmissionReview, and otherwise
// 200 with a well-formed review for the same uid whose patch, if any, is a
// JSON patch.
func FuzzHandler(f *testing.F) {
	f.Add(admissionReview(f, "CREATE", deployment("orders", kAWS, awsRole, kAz, "orders-api", kGCP, gcpEmail)))
	f.Add(admissionReview(f, "CREATE", deployment("orders", annotations.Prefix+"aws-rol", awsRole, kGCP, "Bad")))
	f.Add([]byte{})
	f.Add(admissionReview(f, "UPDATE", serviceAccount("orders", kGCP, gcpEmail, annotations.KeyInjected, "gcp-service-account")))
	f.Add(admissionReview(f, "UPDATE", runningAs(deployment("orders", annotations.KeyInjected, "service-account-name,azure-use-label"), "orders")))
	f.Add(admissionReview(f, "UPDATE", job("migrate", kAz, "orders-api")))
	f.Add(admissionReview(f, "DELETE", deployment("orders", kAWS, awsRole)))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"batch","kind":"CronJob"},"operation":"CREATE","object":{"metadata":{"generateName":"x-","annotations":{"keyless.dev/aws-role":"r"}},"spec":{"jobTemplate":{"spec":{"template":{"metadata":{},"spec":{"serviceAccount":"default"}}}}}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`))
	f.Add([]byte(`null`))

	h := newHandler(fuzzLookup())
	f.Fuzz(func(t *testing.T, body []byte) {
		w := post(h, body)
		switch w.Code {
		case http.StatusBadRequest:
			return
		case http.StatusOK:
		default:
			t.Fatalf("HTTP status = %d, want 200 or 400; body: %s", w.Code, w.Body)
		}
		var sent struct {
			Request struct {
				UID string `json:"uid"`
			} `json:"request"`
		}
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("answered 200 to a body that is not JSON: %v", err)
		}
		resp := decodeResponse(t, w, sent.Request.UID)
		if resp.Patch != nil {
			if _, err := jsonpatch.DecodePatch(resp.Patch); err != nil {
				t.Fatalf("the patch is not a JSON patch: %v\n%s", err, resp.Patch)
			}
		}
	})
}
