package chart_test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/keyless-dev/keyless/deploy/chart"
	"github.com/keyless-dev/keyless/pkg/config"
)

// notValues are the `keyless serve` flags the chart has no value for, and why.
var notValues = map[string]string{
	"kubeconfig":                "in a pod Keyless uses its ServiceAccount",
	"webhook-host":              "the webhook listens on every address of the pod",
	"cert-name":                 "cert-manager's Secret holds tls.crt",
	"key-name":                  "cert-manager's Secret holds tls.key",
	"health-probe-bind-address": "the probes use port 8081, fixed in the template",
	"leader-election-id":        "the alerts and the dashboard name the lease keyless.keyless.dev",
	"cloud-credentials":         "anonymous is for simulators only",
	"enable-http2":              "off, against HTTP/2 rapid-reset attacks; extraArgs can turn it on",
}

// serveArgs returns the arguments of the rendered Deployment's container.
func serveArgs(t *testing.T, values map[string]any) []string {
	t.Helper()
	d := find(t, render(t, values), "Deployment", "keyless")
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("container args %q, want serve and its flags", args)
	}
	return args[1:]
}

// parse parses args as `keyless serve` does and validates the result.
func parse(t *testing.T, args []string) *pflag.FlagSet {
	t.Helper()
	c := config.Default()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String(config.ConfigFlag, "", "")
	config.BindFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("keyless serve %s: %v", strings.Join(args, " "), err)
	}
	loaded, err := config.Load(fs, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range config.Validate(&loaded) {
		t.Errorf("keyless serve would refuse the chart's flags: %v", e)
	}
	return fs
}

// TestArgsAreValidFlags: with each value set the Deployment runs `keyless
// serve` with flags that it parses and accepts.
func TestArgsAreValidFlags(t *testing.T) {
	for name, values := range valueSets(t) {
		t.Run(name, func(t *testing.T) {
			args := serveArgs(t, values)
			parse(t, args)
			seen := map[string]bool{}
			for _, a := range args {
				f, _, _ := strings.Cut(a, "=")
				if seen[f] {
					t.Errorf("%s is given twice", f)
				}
				seen[f] = true
			}
		})
	}
}

// TestEveryFlagHasAValue: every flag of `keyless serve` is set by the
// chart when all values are (ci/all-clouds-values.yaml), or is one of
// notValues. A new flag fails here until the chart has a value for it.
func TestEveryFlagHasAValue(t *testing.T) {
	fs := parse(t, serveArgs(t, readValues(t, chart.Dir+"/ci/all-clouds-values.yaml")))
	set := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { set[f.Name] = true })
	var missing []string
	fs.VisitAll(func(f *pflag.Flag) {
		_, skipped := notValues[f.Name]
		if f.Name != config.ConfigFlag && !set[f.Name] && !skipped {
			missing = append(missing, "--"+f.Name)
		}
		if set[f.Name] && skipped && f.Name != "enable-http2" {
			t.Errorf("--%s is set by the chart but listed in notValues", f.Name)
		}
	})
	for name := range notValues {
		if fs.Lookup(name) == nil {
			t.Errorf("notValues lists --%s, which keyless serve does not have", name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no chart value sets %s: add one (values.yaml, values.schema.json, _helpers.tpl keyless.args) "+
			"or list it in notValues with the reason", strings.Join(missing, ", "))
	}
}

// TestDefaultsLeaveKeylessDefaults: with the default values the chart sets
// only what a pod needs, so Keyless's own defaults apply to the rest.
func TestDefaultsLeaveKeylessDefaults(t *testing.T) {
	want := []string{"cert-dir", "webhook-port", "leader-elect", "leader-election-namespace", "policy-file",
		"policy-configmap", "metrics-bind-address", "metrics-secure"}
	var got []string
	for _, a := range serveArgs(t, nil) {
		f, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		got = append(got, f)
	}
	if !slices.Equal(got, want) {
		t.Errorf("flags %v, want %v", got, want)
	}
}
