package app

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commands returns c and every command below it that Keyless defines
// (cobra's own help and completion commands, and hidden ones, left out).
func commands(c *cobra.Command) []*cobra.Command {
	all := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		if sub.Name() == "help" || sub.Name() == "completion" || sub.Hidden {
			continue
		}
		all = append(all, commands(sub)...)
	}
	return all
}

// TestEveryCommandHasAnExample: the --help of every command, of keyless and
// of the kubectl plugin, shows examples of that command as it is typed.
func TestEveryCommandHasAnExample(t *testing.T) {
	var out bytes.Buffer
	roots := map[string]*cobra.Command{"keyless": newRoot("keyless", &out, &out)}
	roots["kubectl keyless"] = newPluginRoot(&out, &out)
	for name, root := range roots {
		for _, c := range commands(root) {
			t.Run(c.CommandPath(), func(t *testing.T) {
				if strings.TrimSpace(c.Example) == "" {
					t.Fatalf("%s has no Example", c.CommandPath())
				}
				for _, line := range strings.Split(c.Example, "\n") {
					if !strings.Contains(line, name+" ") {
						t.Errorf("example %q does not run %s", line, name)
					}
					if name != "keyless" && regexp.MustCompile(`(^|[^l] )keyless `).MatchString(line) {
						t.Errorf("example %q runs keyless, not %s", line, name)
					}
				}
				if c != root && !strings.Contains(c.Example, c.CommandPath()) {
					t.Errorf("no example runs %s: %q", c.CommandPath(), c.Example)
				}
			})
		}
	}
}

// TestHelpShowsExamples runs --help as a person would.
func TestHelpShowsExamples(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"status", "--help"}, {"check", "--help"}, {"serve", "--help"},
		{"uninstall", "--help"}, {"version", "--help"}} {
		var out bytes.Buffer
		if err := Run(context.Background(), args, &out, &out); err != nil {
			t.Fatalf("keyless %v: %v", args, err)
		}
		if !strings.Contains(out.String(), "Examples:\n  keyless") {
			t.Errorf("keyless %s shows no examples:\n%s", strings.Join(args, " "), out.String())
		}
	}
}

func TestKubectlPlugin(t *testing.T) {
	tests := []struct {
		args     []string
		want     []string
		wantCode int
	}{
		{[]string{"--help"}, []string{"kubectl keyless [command]", "status", "check", "version", "kubectl keyless status -A"}, 0},
		{[]string{"status", "--help"}, []string{"kubectl keyless status [flags]", "kubectl keyless status -n demo"}, 0},
		{[]string{"check", "--help"}, []string{"kubectl keyless check -f deploy/"}, 0},
		{[]string{"version"}, []string{"keyless " + Version, "go: " + runtime.Version()}, 0},
		// The server commands are not part of the plugin.
		{[]string{"serve"}, nil, 1},
		{[]string{"dev"}, nil, 1},
		{[]string{"status", "--bogus"}, []string{"kubectl keyless status --help"}, 2},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := RunKubectlPlugin(context.Background(), tt.args, &out, &out)
			if code := ExitCode(err); code != tt.wantCode {
				t.Fatalf("exit code %d (%v), want %d; output:\n%s", code, err, tt.wantCode, out.String())
			}
			text := out.String()
			if err != nil {
				text += err.Error()
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	oldVersion, oldCommit := Version, Commit
	t.Cleanup(func() { Version, Commit = oldVersion, oldCommit })
	Version, Commit = "v1.2.3", "0123abcd"

	var out bytes.Buffer
	if err := Run(context.Background(), []string{"version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	want := "keyless v1.2.3\ncommit: 0123abcd\ngo: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if out.String() != want {
		t.Errorf("keyless version =\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	if err := Run(context.Background(), []string{"version", "-o", "json"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	var b BuildInfo
	if err := json.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatalf("keyless version -o json: %v\n%s", err, out.String())
	}
	if b.Version != "v1.2.3" || b.Commit != "0123abcd" || b.GoVersion != runtime.Version() {
		t.Errorf("keyless version -o json = %+v", b)
	}

	err := Run(context.Background(), []string{"version", "-o", "yaml"}, &out, &out)
	if ExitCode(err) != 2 {
		t.Errorf("keyless version -o yaml: exit code %d (%v), want 2", ExitCode(err), err)
	}

	Commit = ""
	if got := currentBuild().Commit; got == "" {
		t.Error("without -X Commit, the commit is empty; want the toolchain's revision or \"unknown\"")
	}
}
