package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyless-dev/keyless/pkg/config"
)

// TestDevAcceptsEveryServeFlag: `keyless dev` binds the configuration as
// `keyless serve` does, so every flag of serve is a flag of dev.
func TestDevAcceptsEveryServeFlag(t *testing.T) {
	var out bytes.Buffer
	serve, dev := newServeCommand(&out).Flags(), newDevCommand(&out, &out).Flags()
	serve.VisitAll(func(f *pflag.Flag) {
		if dev.Lookup(f.Name) == nil {
			t.Errorf("keyless dev has no --%s", f.Name)
		}
	})
	for _, own := range []string{"assets", "kubeconfig-out", "examples", "simulate-clouds"} {
		if dev.Lookup(own) == nil {
			t.Errorf("keyless dev has no --%s", own)
		}
	}
}

// devConfig parses args as `keyless dev` does and returns the configuration
// and the result of its checks.
func devConfig(t *testing.T, args ...string) (config.Config, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newDevCommand(&out, &out)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	defaults := devDefaults()
	c, err := config.LoadOver(cmd.Flags(), boundConfig(t, cmd.Flags()), defaults)
	if err != nil {
		return c, err
	}
	simulate, _ := cmd.Flags().GetBool("simulate-clouds")
	return c, checkDevConfig(defaults, &c, simulate)
}

// boundConfig reads the configuration back from the flags of a command.
func boundConfig(t *testing.T, fs *pflag.FlagSet) config.Config {
	t.Helper()
	c := devDefaults()
	own := pflag.NewFlagSet("read", pflag.ContinueOnError)
	config.BindFlags(own, &c)
	fs.Visit(func(f *pflag.Flag) {
		if own.Lookup(f.Name) != nil {
			if err := own.Set(f.Name, f.Value.String()); err != nil {
				t.Fatal(err)
			}
		}
	})
	return c
}

func TestDevFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dev.yaml")
	if err := os.WriteFile(file, []byte("resync-period: 30s\naws-qps: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		check   func(config.Config) string // "" when as expected
		wantErr string
	}{
		{"defaults for people", nil, func(c config.Config) string {
			if c.LogFormat != "text" || c.LogLevel != "error" || c.LeaderElectionNamespace != "default" {
				return "want text logs at error level and the lease in default"
			}
			return ""
		}, ""},
		{"serve's flags", []string{"--resync-period=45s", "--policy-file=p.yaml", "--gcp-qps=7", "--workers=2", "--restart-workloads=false"},
			func(c config.Config) string {
				if c.ResyncPeriod != 45*time.Second || c.PolicyFile != "p.yaml" || c.GCPQPS != 7 || c.Workers != 2 || c.RestartWorkloads {
					return "flags not applied"
				}
				return ""
			}, ""},
		{"a config file keeps dev's defaults", []string{"--config=" + file, "--aws-qps=3"}, func(c config.Config) string {
			if c.ResyncPeriod != 30*time.Second || c.AWSQPS != 3 || c.LogFormat != "text" {
				return "want the file's resync period, the flag's AWS rate and dev's text logs"
			}
			return ""
		}, ""},
		{"the local cluster's kubeconfig", []string{"--kubeconfig=/home/me/.kube/config"}, nil, "--kubeconfig: set by the local cluster"},
		{"the local cluster's certificate", []string{"--cert-dir=/tmp/certs", "--key-name=k.pem"}, nil, "--cert-dir, --key-name: set by the local cluster"},
		{"a simulated cloud's endpoint", []string{"--aws-endpoint=http://localhost:1"}, nil, "--aws-endpoint: set by the cloud simulators"},
		{"real clouds", []string{"--simulate-clouds=false", "--aws-region=eu-west-1", "--cluster-name=prod"}, func(c config.Config) string {
			if c.AWSRegion != "eu-west-1" || c.ClusterName != "prod" {
				return "cloud flags not applied"
			}
			return ""
		}, ""},
		{"validated as serve's", []string{"--tls-min-version=1.1"}, nil, "--tls-min-version"},
		{"every problem at once", []string{"--tls-min-version=1.1", "--kubeconfig=k"}, nil, "set by the local cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := devConfig(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(c); msg != "" {
				t.Errorf("%s: %+v", msg, c)
			}
		})
	}
}
