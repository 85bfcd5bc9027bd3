package admission

import (
	"net/http"
	"testing"

	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// BenchmarkAdmission measures one review through the handler, from the
// request body to the written answer, with a cluster where the
// ServiceAccount exists and another workload agrees with the reviewed one.
func BenchmarkAdmission(b *testing.B) {
	lookup := &fakeLookup{
		serviceAccounts: map[string]map[string]string{"orders": {kAWS: awsRole, kProp: "aws-role"}},
		users:           map[string][]workload.User{"orders": {user("Deployment", "orders-worker", kAWS, awsRole)}},
	}
	benchmarks := []struct {
		name   string
		body   []byte
		policy *policy.Policy
	}{
		{"deployment-three-connections", admissionReview(b, "CREATE", deployment("orders", kAWS, awsRole, kAz, "orders-api", kGCP, gcpEmail)), nil},
		{"serviceaccount-one-connection", admissionReview(b, "CREATE", serviceAccount("orders", kGCP, gcpEmail)), nil},
		{"no-keyless-annotation", admissionReview(b, "CREATE", deployment("orders", "example.com/team", "a")), nil},
		// Identities named after the namespace, which the default policy allows.
		{"deployment-default-policy", admissionReview(b, "CREATE", deployment("shop-api",
			kAWS, "shop-api", kAz, "shop-api", kGCP, "shop-api@my-project.iam.gserviceaccount.com")), policy.Default()},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			h := newHandler(lookup)
			if bm.policy != nil {
				h.Policy = func() *policy.Policy { return bm.policy }
			}
			if w := post(h, bm.body); w.Code != http.StatusOK {
				b.Fatalf("HTTP status = %d: %s", w.Code, w.Body)
			}
			b.SetBytes(int64(len(bm.body)))
			b.ReportAllocs()
			for b.Loop() {
				post(h, bm.body)
			}
		})
	}
}
