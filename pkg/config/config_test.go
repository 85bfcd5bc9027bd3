package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// newFlags returns the flag set of `keyless serve` as pkg/app builds it: the
// config flag, then every configuration flag bound to a Config of defaults.
func newFlags() (*pflag.FlagSet, *Config) {
	c := Default()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String(ConfigFlag, "", "YAML file of settings whose keys are the flag names.")
	BindFlags(fs, &c)
	return fs, &c
}

// load parses args as the command line and returns Load's configuration.
func load(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	fs, c := newFlags()
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	return Load(fs, *c)
}

// configFile writes a config file and returns the --config flag naming it.
func configFile(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyless.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return "--config=" + path
}

func errsText(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n  " + e.Error())
	}
	return b.String()
}

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if errs := Validate(&c); len(errs) > 0 {
		t.Errorf("Validate(Default()) =%s", errsText(errs))
	}
	got, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("Load with no flags = %+v, want the defaults %+v", got, Default())
	}
}

// TestEveryFlagIsBound: each field of Config has a flag, so that the config
// file (whose keys are flag names) can set it too.
func TestEveryFlagIsBound(t *testing.T) {
	fs, c := newFlags()
	n := 0
	fs.VisitAll(func(*pflag.Flag) { n++ })
	if want := reflect.TypeOf(*c).NumField() + 1; n != want { // + --config
		t.Errorf("%d flags, want one per Config field plus --config: %d", n, want)
	}
}

func TestValidateFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantFlag string // the flag the one error names; "" for valid
		wantMsg  string
	}{
		{"port 0", []string{"--webhook-port=0"}, "webhook-port", "must be a port number from 1 to 65535"},
		{"port 70000", []string{"--webhook-port=70000"}, "webhook-port", "must be a port number from 1 to 65535"},
		{"port 65535", []string{"--webhook-port=65535"}, "", ""},
		{"tls 1.1", []string{"--tls-min-version=1.1"}, "tls-min-version", `supported values: "1.2", "1.3"`},
		{"tls 1.3", []string{"--tls-min-version=1.3"}, "", ""},
		{"log level verbose", []string{"--log-level=verbose"}, "log-level", "must be error, info, debug or a number from 0 to 10"},
		{"log level 11", []string{"--log-level=11"}, "log-level", "must be error, info, debug or a number from 0 to 10"},
		{"log level -1", []string{"--log-level=-1"}, "log-level", "must be error, info, debug or a number from 0 to 10"},
		{"log level 4", []string{"--log-level=4"}, "", ""},
		{"log level debug", []string{"--log-level=debug"}, "", ""},
		{"log format xml", []string{"--log-format=xml"}, "log-format", `supported values: "json", "text"`},
		{"log format text", []string{"--log-format=text"}, "", ""},
		{"default service account maybe", []string{"--default-service-account=maybe"}, "default-service-account", `supported values: "create", "deny"`},
		{"default service account deny", []string{"--default-service-account=deny"}, "", ""},
		{"azure tenant not a GUID", []string{"--azure-tenant-id=contoso.onmicrosoft.com"}, "azure-tenant-id", "must be a GUID"},
		{"azure tenant GUID", []string{"--azure-tenant-id=72F988BF-86F1-41AF-91AB-2D7CD011DB47"}, "", ""},
		{"azure resource group ending in a dot", []string{"--azure-resource-group=shop-rg."}, "azure-resource-group", `not ending in "."`},
		{"azure resource group with a space", []string{"--azure-resource-group=shop rg"}, "azure-resource-group", "must be 1 to 90 characters"},
		{"azure resource group", []string{"--azure-resource-group=shop-rg"}, "", ""},
		{"metrics address without colon", []string{"--metrics-bind-address=8080"}, "metrics-bind-address", "must be HOST:PORT"},
		{"metrics address port out of range", []string{"--metrics-bind-address=:99999"}, "metrics-bind-address", "must be HOST:PORT"},
		{"metrics off", []string{"--metrics-bind-address=0"}, "", ""},
		{"metrics on localhost", []string{"--metrics-bind-address=127.0.0.1:8080"}, "", ""},
		{"health address without colon", []string{"--health-probe-bind-address=8081"}, "health-probe-bind-address", "must be HOST:PORT"},
		{"lease 1s", []string{"--leader-election-lease-duration=1s"}, "leader-election-lease-duration", "must be at least 2s"},
		{"lease 2s", []string{"--leader-election-lease-duration=2s"}, "", ""},
		{"cert dir empty", []string{"--cert-dir="}, "cert-dir", "Required value"},
		{"aws account too short", []string{"--aws-account-id=12345678901"}, "aws-account-id", "must be the cluster's 12-digit AWS account ID"},
		{"aws account too long", []string{"--aws-account-id=1234567890123"}, "aws-account-id", "12-digit"},
		{"aws account with a letter", []string{"--aws-account-id=12345678901a"}, "aws-account-id", "12-digit"},
		{"aws account as an ARN", []string{"--aws-account-id=arn:aws:iam::123456789012:root"}, "aws-account-id", "12-digit"},
		{"aws account", []string{"--aws-account-id=012345678901"}, "", ""},
		{"lease namespace not a label", []string{"--leader-election-namespace=Keyless_System"}, "leader-election-namespace", "Invalid value"},
		{"lease name not a subdomain", []string{"--leader-election-id=Keyless Lease"}, "leader-election-id", "Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			errs := Validate(&c)
			if tt.wantFlag == "" {
				if len(errs) > 0 {
					t.Errorf("Validate =%s, want no error", errsText(errs))
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("Validate =%s, want one error on --%s", errsText(errs), tt.wantFlag)
			}
			if got := errs[0].Field; got != "--"+tt.wantFlag {
				t.Errorf("error on %q, want --%s", got, tt.wantFlag)
			}
			if msg := errs[0].Error(); !strings.HasPrefix(msg, "--"+tt.wantFlag+":") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error = %q, want it to start with --%s: and contain %q", msg, tt.wantFlag, tt.wantMsg)
			}
		})
	}
}

func TestValidateReportsEverythingAtOnce(t *testing.T) {
	c, err := load(t, "--webhook-port=0", "--tls-min-version=1.1", "--log-level=verbose", "--log-format=xml",
		"--default-service-account=maybe", "--azure-tenant-id=nope", "--azure-resource-group=rg.",
		"--metrics-bind-address=8080", "--leader-election-lease-duration=1s")
	if err != nil {
		t.Fatal(err)
	}
	errs := Validate(&c)
	want := []string{"--webhook-port", "--tls-min-version", "--metrics-bind-address", "--leader-election-lease-duration",
		"--log-level", "--log-format", "--default-service-account", "--azure-tenant-id", "--azure-resource-group"}
	var got []string
	for _, e := range errs {
		got = append(got, e.Field)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("errors on\n  %s\nwant\n  %s", strings.Join(got, " "), strings.Join(want, " "))
	}
}

func TestFlagSyntaxErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--webhook-port=web"}, "--webhook-port"},
		{[]string{"--leader-election-lease-duration=15"}, "--leader-election-lease-duration"},
		{[]string{"--leader-elect=maybe"}, "--leader-elect"},
		{[]string{"--no-such-flag=1"}, "no-such-flag"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			fs, _ := newFlags()
			err := fs.Parse(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want an error naming %s", tt.args, err, tt.want)
			}
		})
	}
}

func TestConfigFile(t *testing.T) {
	file := configFile(t, `
webhook-port: 10443
tls-min-version: 1.3
log-level: 2
log-format: text
leader-elect: false
leader-election-lease-duration: 30s
default-service-account: deny
gke-node-selector: false
azure-tenant-id: 72f988bf-86f1-41af-91ab-2d7cd011db47
azure-resource-group: shop-rg
metrics-bind-address: "127.0.0.1:9090"
metrics-secure: false
`)
	want := Default()
	want.WebhookPort = 10443
	want.TLSMinVersion = "1.3"
	want.LogLevel = "2"
	want.LogFormat = "text"
	want.LeaderElect = false
	want.LeaseDuration = 30 * time.Second
	want.DefaultServiceAccount = "deny"
	want.GKENodeSelector = false
	want.AzureTenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	want.AzureResourceGroup = "shop-rg"
	want.MetricsAddr = "127.0.0.1:9090"
	want.MetricsSecure = false

	tests := []struct {
		name   string
		args   []string
		change func(*Config) // what the command line changes over the file
	}{
		{"file only", []string{file}, func(*Config) {}},
		{"flags win over the file", []string{file, "--webhook-port=11443", "--log-format=json", "--leader-elect=true",
			"--leader-election-lease-duration=1m"}, func(c *Config) {
			c.WebhookPort, c.LogFormat, c.LeaderElect, c.LeaseDuration = 11443, "json", true, time.Minute
		}},
		{"flags before --config win too", []string{"--gke-node-selector=true", file}, func(c *Config) { c.GKENodeSelector = true }},
		{"a flag set to its default still wins", []string{file, "--tls-min-version=1.2"}, func(c *Config) { c.TLSMinVersion = "1.2" }},
		{"flags the file leaves out", []string{file, "--kubeconfig=/home/me/.kube/config"}, func(c *Config) {
			c.Kubeconfig = "/home/me/.kube/config"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			w := want
			tt.change(&w)
			if !reflect.DeepEqual(got, w) {
				t.Errorf("Load =\n  %+v\nwant\n  %+v", got, w)
			}
			if errs := Validate(&got); len(errs) > 0 {
				t.Errorf("Validate =%s", errsText(errs))
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string // "" for a missing file
		want []string
	}{
		{"unknown key", "webhook-prot: 9443\n", []string{`unknown key "webhook-prot"`}},
		{"config key", "config: other.yaml\n", []string{`unknown key "config"`}},
		{"nested value", "webhook-port:\n  value: 9443\n", []string{`key "webhook-port" must have a single value`}},
		{"list value", "log-level: [info, debug]\n", []string{`key "log-level" must have a single value`}},
		{"empty value", "cert-dir:\n", []string{`key "cert-dir" must have a single value`}},
		{"wrong type", "webhook-port: many\n", []string{`key "webhook-port"`, `invalid argument "many"`}},
		{"duration without unit", "leader-election-lease-duration: 15\n", []string{`key "leader-election-lease-duration"`}},
		{"every problem at once", "a: 1\nwebhook-port: {x: 1}\nb: 2\n", []string{`unknown key "a"`, `unknown key "b"`, `key "webhook-port"`}},
		{"not YAML", "webhook-port: [\n", []string{"is not valid YAML"}},
		{"not a map", "- webhook-port\n", []string{"is not valid YAML"}},
		{"missing file", "", []string{"reading config file", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flag := "--config=" + filepath.Join(t.TempDir(), "missing.yaml")
			if tt.yaml != "" {
				flag = configFile(t, tt.yaml)
			}
			_, err := load(t, flag)
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestEmptyConfigFileIsDefaults(t *testing.T) {
	got, err := load(t, configFile(t, "# nothing set\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("Load = %+v, want the defaults", got)
	}
}

func TestVerbosity(t *testing.T) {
	tests := []struct {
		level   string
		want    int
		wantErr bool
	}{
		{"error", -2, false}, {"info", 0, false}, {"debug", 1, false}, {"0", 0, false}, {"10", 10, false},
		{"11", 0, true}, {"-1", 0, true}, {"verbose", 0, true}, {"", 0, true}, {"INFO", 0, true},
	}
	for _, tt := range tests {
		got, err := Verbosity(tt.level)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Verbosity(%q) = %d, %v; want %d, error %v", tt.level, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestValidateCertFiles(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.CertDir = dir
	errs := ValidateCertFiles(&c)
	if len(errs) != 2 || errs[0].Field != "--cert-name" || errs[1].Field != "--key-name" {
		t.Fatalf("ValidateCertFiles on an empty folder =%s, want errors on --cert-name and --key-name", errsText(errs))
	}
	for _, name := range []string{c.CertName, c.KeyName} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if errs := ValidateCertFiles(&c); len(errs) > 0 {
		t.Errorf("ValidateCertFiles =%s, want none", errsText(errs))
	}
}

func TestGCPProject(t *testing.T) {
	for _, tt := range []struct{ pool, want string }{
		{"my-project.svc.id.goog", "my-project"},
		{"", ""},
		{"my-project", ""},
	} {
		c := Config{GCPWorkloadPool: tt.pool}
		if got := c.GCPProject(); got != tt.want {
			t.Errorf("GCPProject() of pool %q = %q, want %q", tt.pool, got, tt.want)
		}
	}
}
