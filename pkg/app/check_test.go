package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata of pkg/check, shared with its golden tests.
const checkData = "../check/testdata/"

// run runs the keyless command line and returns its exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, &out, &errb)
	if err != nil {
		errb.WriteString("keyless: " + err.Error() + "\n") // as main prints it
	}
	return ExitCode(err), out.String(), errb.String()
}

func TestCheckExitCodes(t *testing.T) {
	badPolicy := filepath.Join(t.TempDir(), "empty-rules.yaml")
	if err := os.WriteFile(badPolicy, []byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n  - name: x\n    mode: [enforce]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		// out and errOut must appear in stdout and stderr.
		out, errOut string
	}{
		{name: "valid", args: []string{"-f", checkData + "valid.yaml", "--gcp-project", "shop-project"}, code: 0,
			out: "AWS: EKS Pod Identity association shop/orders-api -> role shop-orders"},
		{name: "valid, but the GCP project unknown", args: []string{"-f", checkData + "valid.yaml"}, code: 1,
			out: "set --gcp-workload-pool"},
		{name: "the cluster's account given", args: []string{"-f", checkData + "default-policy.yaml", "--aws-account-id", "123456789012",
			"--gcp-project", "shop-project"}, code: 1, out: `belongs to namespace "shop-prod"`},
		{name: "another account given", args: []string{"-f", checkData + "default-policy.yaml", "--aws-account-id", "210987654321"},
			code: 1, out: "only in the cluster's AWS account 210987654321, not 123456789012"},
		{name: "valid with the pool", args: []string{"-f", checkData + "valid.yaml", "--gcp-workload-pool", "shop-project.svc.id.goog"},
			code: 0, out: "serviceAccount:shop-project.svc.id.goog[shop/orders-api]"},
		{name: "typo", args: []string{"-f", checkData + "typo.yaml"}, code: 1,
			out:    `typo.yaml:8: Deployment/payments: metadata.annotations[keyless.dev/aws-rol]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/aws-role"? (rule annotations, enforce)`,
			errOut: "check failed: 2 errors"},
		{name: "conflict", args: []string{"-f", checkData + "conflict.yaml"}, code: 1, out: "(rule conflict, enforce)"},
		{name: "default policy", args: []string{"-f", checkData + "default-policy.yaml"}, code: 1, out: "(rule namespace-prefix, enforce)"},
		{name: "warnings do not fail", args: []string{"-f", checkData + "warn.yaml", "--policy", checkData + "policy.yaml"}, code: 0,
			out: "(rule unique-identity, warn)"},
		{name: "enforce rule of a policy file", args: []string{"-f", checkData + "selector.yaml", "--policy", checkData + "policy.yaml"}, code: 1},
		{name: "deny the default ServiceAccount", args: []string{"-f", checkData + "valid.yaml", "--default-service-account", "deny"}, code: 1,
			out: "(rule mutation, enforce)"},
		{name: "broken YAML", args: []string{"-f", checkData + "broken.yaml"}, code: 2,
			errOut: "broken.yaml:16:5: invalid YAML: did not find expected key"},
		{name: "unquoted annotation", args: []string{"-f", checkData + "unquoted.yaml"}, code: 2, errOut: "unquoted.yaml:8:35: "},
		{name: "a directory with broken files", args: []string{"-f", checkData}, code: 2, errOut: "broken.yaml:16:5"},
		{name: "missing file", args: []string{"-f", checkData + "missing.yaml"}, code: 2, errOut: "missing.yaml: no such file or directory"},
		{name: "bad policy", args: []string{"-f", checkData + "valid.yaml", "--policy", checkData + "bad-policy.yaml"}, code: 2,
			errOut: `bad-policy.yaml:6:13: spec.rules[0].mode: "enforced" is not a mode`},
		{name: "policy of the wrong type", args: []string{"-f", checkData + "valid.yaml", "--policy", badPolicy}, code: 2,
			errOut: "empty-rules.yaml:6:11: spec.rules[0].mode"},
		{name: "missing policy", args: []string{"-f", checkData + "valid.yaml", "--policy", "nope.yaml"}, code: 2, errOut: "--policy: open nope.yaml"},
		{name: "bad output", args: []string{"-f", checkData + "valid.yaml", "-o", "yaml"}, code: 2, errOut: `-o "yaml": use text or json`},
		{name: "bad default-service-account", args: []string{"--default-service-account", "share"}, code: 2},
		{name: "bad resource group", args: []string{"--azure-resource-group", "rg."}, code: 2, errOut: "--azure-resource-group"},
		{name: "bad subscription", args: []string{"--azure-subscription-id", "sub"}, code: 2, errOut: "not a GUID"},
		{name: "bad pool", args: []string{"--gcp-workload-pool", "shop-project"}, code: 2, errOut: "PROJECT.svc.id.goog"},
		{name: "bad account", args: []string{"--aws-account-id", "12345678901"}, code: 2, errOut: "not a 12-digit AWS account ID"},
		{name: "project and pool differ", args: []string{"--gcp-project", "a-project", "--gcp-workload-pool", "b-project.svc.id.goog"}, code: 2,
			errOut: "--gcp-project \"a-project\" is not the project of --gcp-workload-pool"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, errOut: "unknown flag: --nope"},
		{name: "file as an argument", args: []string{checkData + "valid.yaml"}, code: 2, errOut: "give files with -f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"check"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out, tt.out) {
				t.Errorf("stdout lacks %q:\n%s", tt.out, out)
			}
			if !strings.Contains(errOut, tt.errOut) {
				t.Errorf("stderr lacks %q:\n%s", tt.errOut, errOut)
			}
			if code == 2 && out != "" {
				t.Errorf("unreadable input printed a report:\n%s", out)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	code, out, _ := run(t, "check", "-o", "json", "-f", checkData+"conflict.yaml", "-f", checkData+"valid.yaml", "--gcp-project", "shop-project")
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	var r struct {
		Objects []struct {
			Name     string `json:"name"`
			Admitted bool   `json:"admitted"`
		} `json:"objects"`
		Violations []struct {
			File, Rule, Mode string
			Line             int
		} `json:"violations"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(r.Objects) != 5 || len(r.Violations) != 2 || r.Violations[0].Rule != "conflict" ||
		r.Violations[0].File != checkData+"conflict.yaml" || r.Violations[0].Line != 32 {
		t.Errorf("unexpected report: %+v", r)
	}
}

// TestCheckStdin feeds the command as `kustomize build | keyless check` does.
func TestCheckStdin(t *testing.T) {
	raw, err := os.ReadFile(checkData + "multi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--gcp-project", "billing-project"}, {"-f", "-", "--gcp-project", "billing-project"}} {
		cmd := newCheckCommand()
		var out bytes.Buffer
		cmd.SetIn(bytes.NewReader(raw))
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if want := "ServiceAccount billing/invoices (<stdin>:38)"; !strings.Contains(out.String(), want) {
			t.Errorf("%v: output lacks %q:\n%s", args, want, out.String())
		}
	}

	cmd := newCheckCommand()
	cmd.SetIn(strings.NewReader("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: [x\n"))
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetArgs(nil)
	err = cmd.Execute()
	if ExitCode(err) != 2 || !strings.Contains(err.Error(), "<stdin>:4:") {
		t.Errorf("broken stdin: exit %d, %v", ExitCode(err), err)
	}
}
