package chart_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinariesDoNotLinkHelm: Helm is for rendering the chart in tests and
// `make manifests`; the shipped commands must not carry it.
func TestBinariesDoNotLinkHelm(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "../../cmd/...").Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/...: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "helm.sh/") || strings.HasPrefix(pkg, "github.com/prometheus/prometheus/") ||
			strings.HasPrefix(pkg, "github.com/keyless-dev/keyless/deploy/chart") {
			t.Errorf("./cmd/... links %s", pkg)
		}
	}
}
