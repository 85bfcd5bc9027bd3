package app

import (
	"regexp"
	"strings"
	"testing"
)

// TestDevMoved: `keyless dev`, with or without its old flags, is a usage
// error that says where the command went, and it is not in the help.
func TestDevMoved(t *testing.T) {
	for _, args := range [][]string{{"dev"}, {"dev", "--assets", "bin/control-plane", "--examples=false"}, {"dev", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, stderr := run(t, args...)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			for _, want := range []string{"make dev", "go run ./cmd/keyless-dev", "same flags"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
	if _, out, _ := run(t, "--help"); regexp.MustCompile(`(?m)^\s+dev\s`).MatchString(out) {
		t.Errorf("keyless --help lists dev:\n%s", out)
	}
}
