package devenv

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/spf13/pflag"

	"github.com/keyless-dev/keyless/pkg/config"
)

// TestArgsRoundTrip: the flags Args gives, parsed by `keyless serve`'s
// binding, give back the configuration.
func TestArgsRoundTrip(t *testing.T) {
	c := config.Default()
	(&Clouds{AWSURL: "http://127.0.0.1:1", AzureURL: "http://127.0.0.1:2", GCPURL: "http://127.0.0.1:3"}).Configure(&c)
	c.Kubeconfig, c.CertDir, c.WebhookHost, c.WebhookPort = "/tmp/kubeconfig", "/tmp/certs", "127.0.0.1", 12345
	c.LeaseDuration, c.ResyncPeriod, c.AWSQPS, c.LeaderElect = 3*time.Second, 90*time.Second, 100, false
	c.PolicyFile, c.MetricsAddr = "/tmp/policy file.yaml", "0"

	got := config.Default()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.BindFlags(fs, &got)
	args := Args(c)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("parsed %q\n  = %+v\nwant %+v", args, got, c)
	}
	if n := len(Args(config.Default())); n != 0 {
		t.Errorf("Args(Default()) = %q, want no flags", Args(config.Default()))
	}
}

func TestSimulatorFlags(t *testing.T) {
	got := SimulatorFlags()
	for _, want := range []string{"cluster-name", "cloud-credentials", "aws-region", "aws-endpoint", "azure-subscription-id",
		"azure-oidc-issuer-url", "azure-endpoint", "gcp-workload-pool", "gcp-endpoint"} {
		if !slices.Contains(got, want) {
			t.Errorf("SimulatorFlags() = %v, lacks %s", got, want)
		}
	}
	for _, not := range []string{"aws-qps", "resync-period", "log-level"} {
		if slices.Contains(got, not) {
			t.Errorf("SimulatorFlags() = %v, has %s, which the simulators leave alone", got, not)
		}
	}
}

// TestStopFilter drops only controller-runtime's report of a deliberate
// stop while leading.
func TestStopFilter(t *testing.T) {
	var out bytes.Buffer
	log := withoutDeliberateStopError(funcr.New(func(prefix, args string) { out.WriteString(prefix + args + "\n") }, funcr.Options{}))
	log.Error(errors.New("leader election lost"), "error received after stop sequence was engaged")
	log.WithName("manager").WithValues("k", "v").Error(errors.New("leader election lost"), "error received after stop sequence was engaged")
	if out.Len() != 0 {
		t.Errorf("the deliberate stop was logged: %s", &out)
	}
	log.Error(errors.New("leader election lost"), "problem running manager")
	log.Error(errors.New("etcdserver: request timed out"), "error received after stop sequence was engaged")
	log.WithName("manager").Info("stopping")
	if got := strings.Count(out.String(), "\n"); got != 3 {
		t.Errorf("logged %d lines, want the 3 others:\n%s", got, &out)
	}
}
