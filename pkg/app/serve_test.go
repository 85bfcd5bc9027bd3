package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyless-dev/keyless/pkg/config"
)

// certDir returns a folder with the default certificate and key files.
func certDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// parseServe runs `keyless serve args` with a run function that only
// records the configuration it is given; ran is false when serve refused
// to start.
func parseServe(t *testing.T, args ...string) (cfg config.Config, ran bool, err error) {
	t.Helper()
	root := &cobra.Command{Use: "keyless", SilenceErrors: true, SilenceUsage: true}
	root.SetFlagErrorFunc(FlagError)
	root.AddCommand(newServeCommand(func(_ context.Context, c config.Config) error {
		cfg, ran = c, true
		return nil
	}))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"serve"}, args...))
	err = root.ExecuteContext(context.Background())
	return cfg, ran, err
}

func TestServeFlagsToConfig(t *testing.T) {
	certs := certDir(t)
	file := filepath.Join(t.TempDir(), "keyless.yaml")
	if err := os.WriteFile(file, []byte("resync-period: 30s\naws-qps: 2\nworkers: 8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Every case runs outside a pod, so it names the Lease's namespace.
	base := []string{"--cert-dir=" + certs, "--leader-election-namespace=keyless-system"}
	want := func(edit func(*config.Config)) config.Config {
		c := config.Default()
		c.CertDir, c.LeaderElectionNamespace = certs, "keyless-system"
		edit(&c)
		return c
	}
	tests := []struct {
		name string
		args []string
		want config.Config
	}{
		{"defaults", nil, want(func(*config.Config) {})},
		{"flags", []string{"--webhook-port=8443", "--aws-region=eu-west-1", "--cluster-name=prod", "--resync-period=45s",
			"--restart-workloads=false", "--log-format=text"}, want(func(c *config.Config) {
			c.WebhookPort, c.AWSRegion, c.ClusterName, c.ResyncPeriod = 8443, "eu-west-1", "prod", 45*time.Second
			c.RestartWorkloads, c.LogFormat = false, "text"
		})},
		{"a config file under the flags", []string{"--config=" + file, "--aws-qps=3"}, want(func(c *config.Config) {
			c.ResyncPeriod, c.AWSQPS, c.Workers = 30*time.Second, 3, 8
		})},
		{"no leader election, no namespace needed", []string{"--cert-dir=" + certs, "--leader-elect=false",
			"--leader-election-namespace="}, want(func(c *config.Config) { c.LeaderElect, c.LeaderElectionNamespace = false, "" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ran, err := parseServe(t, append(base, tt.args...)...)
			if err != nil || !ran {
				t.Fatalf("serve did not run (%v)", err)
			}
			if got != tt.want {
				t.Errorf("config =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestServeRefusesToStart: a configuration serve cannot start with is a
// usage error (exit code 2) naming each problem, and nothing runs.
func TestServeRefusesToStart(t *testing.T) {
	certs := certDir(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"invalid flag value", []string{"--cert-dir=" + certs, "--leader-elect=false", "--tls-min-version=1.1"},
			[]string{"invalid configuration:", `--tls-min-version: Unsupported value: "1.1"`}},
		{"no certificate", []string{"--cert-dir=" + t.TempDir(), "--leader-elect=false"},
			[]string{"--cert-name", "--key-name", "mount the webhook certificate Secret at --cert-dir"}},
		{"every problem at once", []string{"--cert-dir=" + t.TempDir(), "--leader-elect=false", "--workers=0"},
			[]string{"--workers: Invalid value: 0: must be from 1 to 100", "--cert-name", "--key-name"}},
		{"unknown flag", []string{"--web-port=1"}, []string{"unknown flag: --web-port", "Run 'keyless serve --help' for the flags"}},
		{"unreadable config file", []string{"--config=" + filepath.Join(t.TempDir(), "missing.yaml")}, []string{"reading config file"}},
	}
	if !config.CurrentHost().InCluster {
		tests = append(tests, struct {
			name string
			args []string
			want []string
		}{"leader election outside a cluster", []string{"--cert-dir=" + certs},
			[]string{"--leader-election-namespace: Required value", "(or --leader-elect=false)"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ran, err := parseServe(t, tt.args...)
			if ran {
				t.Fatal("serve ran")
			}
			var exit *ExitError
			if !errors.As(err, &exit) || exit.Code != 2 {
				t.Fatalf("error %v, want a usage error (exit code 2)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
