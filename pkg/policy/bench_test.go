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
	in := Input{Namespace: "orders", ServiceAccount: "api", Cluster: testCluster,
		Connections: conns(b, "aws-role", "arn:aws:iam::123456789012:role/team/payments-api", "azure-identity", "orders-x", "gcp-service-account", "orders-api"+testProject)}
	for b.Loop() {
		p.Evaluate(in)
	}
}

// BenchmarkEvaluateDefaultAllowed is the usual admission: every identity is
// named after the namespace, so there is no violation and no message.
func BenchmarkEvaluateDefaultAllowed(b *testing.B) {
	p := Default()
	in := Input{Namespace: "orders", ServiceAccount: "api", Cluster: testCluster,
		Connections: conns(b, "aws-role", "orders-api", "azure-identity", "orders-api", "gcp-service-account", "orders-api"+testProject)}
	if vs := p.Evaluate(in); len(vs) > 0 {
		b.Fatalf("violations: %s", messages(vs))
	}
	for b.Loop() {
		p.Evaluate(in)
	}
}
