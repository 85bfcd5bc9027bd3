package devenv

import (
	"fmt"
	"slices"

	"github.com/spf13/pflag"

	"github.com/keyless-dev/keyless/pkg/config"
)

// Args returns the flags that give `keyless serve` the configuration c:
// one for each setting that differs from config.Default, read through the
// flag binding of pkg/config.
func Args(c config.Config) []string {
	var args []string
	defaults := flagValues(config.Default())
	for _, f := range flagList(c) {
		if f.Value.String() != defaults[f.Name] {
			args = append(args, fmt.Sprintf("--%s=%s", f.Name, f.Value.String()))
		}
	}
	return args
}

// SimulatorFlags are the flags whose values --simulate-clouds sets: the
// cluster's name and each cloud's account and endpoint.
func SimulatorFlags() []string {
	c := config.Default()
	(&Clouds{AWSURL: "http://aws", AzureURL: "http://azure", GCPURL: "http://gcp"}).Configure(&c)
	return changedFlags(config.Default(), c)
}

// EnvironmentFlags are the flags whose values the local cluster sets: where
// the kubeconfig and the webhook's certificate are.
var EnvironmentFlags = []string{"kubeconfig", "cert-dir", "cert-name", "key-name"}

// Conflicts returns the flags among names whose values in c differ from
// those in base.
func Conflicts(base, c config.Config, names []string) []string {
	return slices.DeleteFunc(changedFlags(base, c), func(n string) bool { return !slices.Contains(names, n) })
}

func changedFlags(a, b config.Config) []string {
	va := flagValues(a)
	var names []string
	for _, f := range flagList(b) {
		if va[f.Name] != f.Value.String() {
			names = append(names, f.Name)
		}
	}
	return names
}

func flagList(c config.Config) []*pflag.Flag {
	fs := pflag.NewFlagSet("keyless", pflag.ContinueOnError)
	config.BindFlags(fs, &c)
	var out []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) { out = append(out, f) })
	return out
}

func flagValues(c config.Config) map[string]string {
	m := map[string]string{}
	for _, f := range flagList(c) {
		m[f.Name] = f.Value.String()
	}
	return m
}
