package policystore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keyless-dev/keyless/pkg/policy"
)

const allowAll = "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules: []\n"

func TestNew(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name      string
		path      string
		wantRules int
		wantErr   string
	}{
		{"no flag: the default", "", 1, ""},
		{"missing file: the default", filepath.Join(dir, "absent.yaml"), 1, ""},
		{"empty file: the default", write("empty.yaml", "# nothing yet\n"), 1, ""},
		{"allow everything, written out", write("all.yaml", allowAll), 0, ""},
		{"invalid: Keyless does not start", write("bad.yaml", "apiVersion: v9\n"), 0, "policy file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.path, time.Second, logr.Discard())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(s.Current().Rules()); got != tt.wantRules {
				t.Errorf("rules = %d, want %d", got, tt.wantRules)
			}
		})
	}
}

func TestReloadKeepsTheLastGoodPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(allowAll), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(path, time.Second, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	var rejected []error
	loads := 0
	s.OnReject = func(err error) { rejected = append(rejected, err) }
	s.OnLoad = func() { loads++ }

	s.Reload() // unchanged: nothing happens
	if loads != 0 || len(rejected) != 0 {
		t.Fatalf("an unchanged file was reloaded (%d loads, %d rejections)", loads, len(rejected))
	}
	if err := os.WriteFile(path, []byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n    - name: x\n      mode: block\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload() // seen once: not applied yet
	if len(rejected) != 0 {
		t.Fatalf("a version seen once was judged: %v", rejected)
	}
	s.Reload()
	s.Reload() // the same invalid file is reported once
	if len(rejected) != 1 || !strings.Contains(rejected[0].Error(), "mode") {
		t.Fatalf("rejections = %v, want one about the mode", rejected)
	}
	if got := len(s.Current().Rules()); got != 0 {
		t.Errorf("the invalid version replaced the last good one: %d rules", got)
	}
	if err := os.WriteFile(path, policy.DefaultYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	s.Reload()
	if loads != 1 || len(s.Current().Rules()) != 1 {
		t.Errorf("the valid new version was not loaded: %d loads, %d rules", loads, len(s.Current().Rules()))
	}
}

func TestReloadIgnoresAFileCaughtHalfWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(allowAll), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(path, time.Second, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	// Truncated for a moment (it would read as empty: the default policy).
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	if err := os.WriteFile(path, []byte(allowAll), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	s.Reload()
	if got := len(s.Current().Rules()); got != 0 {
		t.Errorf("the truncated file was loaded as the default policy (%d rules)", got)
	}
}

// TestReloadKeepsTheLastGoodPolicyWhenTheFileGoes removes the file (a
// ConfigMap key renamed or dropped) and checks that the last good policy
// stays, that the loss is reported once, and that the file's return is
// loaded as usual.
func TestReloadKeepsTheLastGoodPolicyWhenTheFileGoes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(allowAll), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(path, time.Second, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	var missing, loads int
	var rejected []error
	s.OnMissing = func() { missing++ }
	s.OnLoad = func() { loads++ }
	s.OnReject = func(err error) { rejected = append(rejected, err) }
	before := testutil.ToFloat64(reloads.WithLabelValues("missing"))

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		s.Reload()
	}
	if got := len(s.Current().Rules()); got != 0 {
		t.Errorf("the default policy (%d rules) replaced the last good one when the file went", got)
	}
	if missing != 1 || loads != 0 || len(rejected) != 0 {
		t.Errorf("missing reported %d times (want 1), %d loads, rejections %v", missing, loads, rejected)
	}
	if got := testutil.ToFloat64(reloads.WithLabelValues("missing")) - before; got != 1 {
		t.Errorf("keyless_policy_reloads_total{result=\"missing\"} grew by %v, want 1", got)
	}

	// Back as it was: nothing to load, and a later loss is reported again.
	if err := os.WriteFile(path, []byte(allowAll), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	s.Reload()
	if loads != 0 {
		t.Errorf("the same policy was loaded again (%d loads)", loads)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	if missing != 2 {
		t.Errorf("a second loss was reported %d times in all, want 2", missing)
	}

	// Back with a new version: loaded once seen twice.
	if err := os.WriteFile(path, policy.DefaultYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	s.Reload()
	if loads != 1 || len(s.Current().Rules()) != 1 {
		t.Errorf("the returning file was not loaded: %d loads, %d rules", loads, len(s.Current().Rules()))
	}
}

// TestFileMissingAtStartMeansTheDefaultUntilItAppears: with nothing loaded
// yet there is no last good policy; the default stays until a file appears.
func TestFileMissingAtStartMeansTheDefaultUntilItAppears(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	s, err := New(path, time.Second, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	s.OnMissing = func() { missing++ }
	s.Reload()
	s.Reload()
	if missing != 0 || len(s.Current().Rules()) != 1 {
		t.Errorf("a file missing from the start: %d reports (want 0), %d rules (want the default's 1)", missing, len(s.Current().Rules()))
	}
	if err := os.WriteFile(path, []byte(allowAll), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	s.Reload()
	if got := len(s.Current().Rules()); got != 0 {
		t.Errorf("the file that appeared was not loaded: %d rules", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	if missing != 1 || len(s.Current().Rules()) != 0 {
		t.Errorf("after the loaded file went: %d reports (want 1), %d rules (want the last good 0)", missing, len(s.Current().Rules()))
	}
}
