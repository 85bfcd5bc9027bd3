package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoSimulatorsInTheRelease: the released binaries, keyless and the
// kubectl plugin, link neither the local development environment nor
// anything under test/, such as the cloud simulators; those belong to
// keyless-dev.
func TestNoSimulatorsInTheRelease(t *testing.T) {
	const module = "github.com/keyless-dev/keyless/"
	out, err := exec.Command("go", "list", "-deps", ".", "../kubectl-keyless").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module+"test/") || pkg == module+"pkg/devenv" || pkg == module+"pkg/devcmd" {
			t.Errorf("a released binary depends on %s", pkg)
		}
	}
}
