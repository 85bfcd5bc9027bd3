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
		if strings.HasPrefix(pkg, module+"test/") || strings.HasPrefix(pkg, module+"pkg/fakecloud") ||
			pkg == module+"pkg/devenv" || pkg == module+"pkg/devcmd" {
			t.Errorf("a released binary depends on %s", pkg)
		}
	}
}

// TestNoCommandImportsTest: no command, keyless-dev included, is built from
// anything under test/: the simulators it runs live in pkg/fakecloud.
func TestNoCommandImportsTest(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../...").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/keyless-dev/keyless/test/") {
			t.Errorf("a command depends on %s", pkg)
		}
	}
}
