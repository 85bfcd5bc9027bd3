package devcmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/keyless-dev/keyless/pkg/app"
	"github.com/keyless-dev/keyless/pkg/config"
)

// parse runs keyless-dev with args and a run function that only records
// the settings it is given; ran is false when keyless-dev refused to start.
func parse(t *testing.T, args ...string) (s Settings, ran bool, err error) {
	t.Helper()
	cmd := newCommand(func(_ context.Context, got Settings) error {
		s, ran = got, true
		return nil
	})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return s, ran, err
}

// TestAcceptsEveryServeFlag: keyless-dev binds the configuration as
// `keyless serve` does, so every flag of serve is one of keyless-dev.
func TestAcceptsEveryServeFlag(t *testing.T) {
	serve := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	c := config.Default()
	config.BindFlags(serve, &c)
	dev := newCommand(nil).Flags()
	serve.VisitAll(func(f *pflag.Flag) {
		if dev.Lookup(f.Name) == nil {
			t.Errorf("keyless-dev has no --%s", f.Name)
		}
	})
	for _, own := range []string{config.ConfigFlag, "assets", "kubeconfig-out", "examples", "simulate-clouds"} {
		if dev.Lookup(own) == nil {
			t.Errorf("keyless-dev has no --%s", own)
		}
	}
}

func TestFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dev.yaml")
	if err := os.WriteFile(file, []byte("resync-period: 30s\naws-qps: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		check   func(Settings) string // "" when as expected
		wantErr string
	}{
		{"defaults for people", nil, func(s Settings) string {
			c := s.Config
			if c.LogFormat != "text" || c.LogLevel != "error" || c.LeaderElectionNamespace != "default" {
				return "want text logs at error level and the lease in default"
			}
			if !s.Examples || !s.SimulateClouds || s.Kubeconfig != filepath.Join("bin", "dev", "kubeconfig") {
				return "want the examples, the simulators, and the kubeconfig in bin/dev"
			}
			return ""
		}, ""},
		{"serve's flags", []string{"--resync-period=45s", "--policy-file=p.yaml", "--gcp-qps=7", "--workers=2", "--restart-workloads=false"},
			func(s Settings) string {
				c := s.Config
				if c.ResyncPeriod != 45*time.Second || c.PolicyFile != "p.yaml" || c.GCPQPS != 7 || c.Workers != 2 || c.RestartWorkloads {
					return "flags not applied"
				}
				return ""
			}, ""},
		{"its own flags", []string{"--assets=/opt/cp", "--kubeconfig-out=/tmp/k/config", "--examples=false"}, func(s Settings) string {
			if s.Assets != "/opt/cp" || s.Kubeconfig != "/tmp/k/config" || s.Examples || !s.SimulateClouds {
				return "flags not applied"
			}
			return ""
		}, ""},
		{"a config file keeps dev's defaults", []string{"--config=" + file, "--aws-qps=3"}, func(s Settings) string {
			c := s.Config
			if c.ResyncPeriod != 30*time.Second || c.AWSQPS != 3 || c.LogFormat != "text" {
				return "want the file's resync period, the flag's AWS rate and dev's text logs"
			}
			return ""
		}, ""},
		{"the local cluster's kubeconfig", []string{"--kubeconfig=/home/me/.kube/config"}, nil, "--kubeconfig: set by the local cluster; leave it out"},
		{"the local cluster's certificate", []string{"--cert-dir=/tmp/certs", "--key-name=k.pem"}, nil, "--cert-dir, --key-name: set by the local cluster"},
		{"a simulated cloud's endpoint", []string{"--aws-endpoint=http://localhost:1"}, nil,
			"--aws-endpoint: set by the cloud simulators; add --simulate-clouds=false"},
		{"real clouds", []string{"--simulate-clouds=false", "--aws-region=eu-west-1", "--cluster-name=prod"}, func(s Settings) string {
			if s.Config.AWSRegion != "eu-west-1" || s.Config.ClusterName != "prod" || s.SimulateClouds {
				return "cloud flags not applied"
			}
			return ""
		}, ""},
		{"validated as serve's", []string{"--tls-min-version=1.1"}, nil, "--tls-min-version"},
		{"every problem at once", []string{"--tls-min-version=1.1", "--kubeconfig=k"}, nil, "set by the local cluster"},
		{"an unknown flag", []string{"--asets=x"}, nil, "Run 'keyless-dev --help' for the flags"},
		{"an argument", []string{"run"}, nil, `unknown command "run"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ran, err := parse(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if ran {
					t.Error("ran despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(s); msg != "" {
				t.Errorf("%s: %+v", msg, s)
			}
		})
	}
}

// TestConfigurationMistakesAreUsageErrors: they exit with code 2, as
// those of `keyless serve` do.
func TestConfigurationMistakesAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--kubeconfig=k"}, {"--workers=0"}, {"--nope"}} {
		_, _, err := parse(t, args...)
		var exit *app.ExitError
		if !errors.As(err, &exit) || exit.Code != 2 {
			t.Errorf("keyless-dev %v: error %v, want exit code 2", args, err)
		}
	}
}

func TestOptions(t *testing.T) {
	base := defaults()
	tests := []struct {
		name       string
		host       string
		port       int
		wantHost   string
		wantPort   int
		kubeconfig string
		wantDir    string
	}{
		{"a free loopback port by default", base.WebhookHost, base.WebhookPort, "", 0, "/tmp/dev/kubeconfig", "/tmp/dev/cluster"},
		{"the webhook where the flags say", "127.0.0.2", 10250, "127.0.0.2", 10250, "/k/config", "/k/cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.WebhookHost, c.WebhookPort = tt.host, tt.port
			o := options(Settings{Config: c, Assets: "/assets", SimulateClouds: true}, tt.kubeconfig, app.NewLogger(c, &bytes.Buffer{}))
			if o.WebhookHost != tt.wantHost || o.WebhookPort != tt.wantPort {
				t.Errorf("webhook at %q:%d, want %q:%d", o.WebhookHost, o.WebhookPort, tt.wantHost, tt.wantPort)
			}
			if o.Dir != tt.wantDir || o.AssetsDir != "/assets" || !o.SimulateClouds || o.Config != c {
				t.Errorf("options = %+v, want the logs in %s, the assets and the simulators", o, tt.wantDir)
			}
		})
	}
}

func TestNamespacesOf(t *testing.T) {
	obj := func(ns string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetNamespace(ns)
		return u
	}
	got := namespacesOf([]*unstructured.Unstructured{obj("orders"), obj(""), obj("billing"), obj("orders"), obj("shop")})
	if want := []string{"orders", "billing", "shop"}; !slices.Equal(got, want) {
		t.Errorf("namespacesOf = %q, want %q (in order, once each, cluster-scoped objects left out)", got, want)
	}
}

func TestReport(t *testing.T) {
	var out bytes.Buffer
	err := report(&out, []section{
		{"First:", func() ([]string, error) { return []string{"a", "b"}, nil }},
		{"Empty:", func() ([]string, error) { return nil, nil }},
		{"Last:", func() ([]string, error) { return []string{"c"}, nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "\nFirst:\n  a\n  b\n\nLast:\n  c\n"; out.String() != want {
		t.Errorf("report =\n%q\nwant\n%q", out.String(), want)
	}
	boom := errors.New("boom")
	if err := report(&out, []section{{"X:", func() ([]string, error) { return nil, boom }}}); !errors.Is(err, boom) {
		t.Errorf("report = %v, want %v", err, boom)
	}
}
