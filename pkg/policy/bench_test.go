package policy

import "testing"

func BenchmarkParseDefaultYAML(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(DefaultYAML); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluateDefault(b *testing.B) {
	p := Default()
	in := Input{Namespace: "orders", ServiceAccount: "api", AzureSubscription: testSub,
		Connections: conns(b, "aws-role", "arn:aws:iam::123456789012:role/team/payments-api", "azure-identity", "orders-x", "gcp-service-account", "orders-api"+testProject)}
	for b.Loop() {
		p.Evaluate(in)
	}
}
