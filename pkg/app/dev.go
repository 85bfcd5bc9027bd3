package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// ReadyLine starts the line `keyless dev` prints once everything runs, so
// that programs can wait for it.
const ReadyLine = "keyless dev: ready"

// devDefaults are `keyless serve`'s defaults, but for people at a terminal.
func devDefaults() config.Config {
	c := config.Default()
	c.LogFormat, c.LogLevel = "text", "error"
	c.LeaderElectionNamespace = "default"
	return c
}

// devOptions are the flags of `keyless dev` beyond those of `keyless serve`.
type devOptions struct {
	assets, kubeconfig string
	examples, simulate bool
}

func newDevCommand(stdout, stderr io.Writer) *cobra.Command {
	defaults := devDefaults()
	c := defaults
	o := devOptions{assets: os.Getenv("KUBEBUILDER_ASSETS"), kubeconfig: filepath.Join("bin", "dev", "kubeconfig"), examples: true, simulate: true}
	if o.assets == "" {
		o.assets = filepath.Join("bin", "control-plane")
	}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run Keyless on a local cluster with the examples applied",
		Long: "Start a local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok running the pods\n" +
			"of two simulated nodes, one with GKE Workload Identity), run Keyless against it with generated certificates\n" +
			"and the webhook configuration of deploy/, apply the examples, print what Keyless changed and the pods that\n" +
			"run, write a kubeconfig, and keep running until interrupted. Build the cluster's binaries first with\n" +
			"hack/control-plane.sh (`make dev` does both).\n\n" +
			"Every flag of `keyless serve` is accepted, --config included. The local cluster sets --kubeconfig and the\n" +
			"webhook certificate (--cert-dir, --cert-name, --key-name); --simulate-clouds sets the cluster name and each\n" +
			"cloud's account and endpoint.",
		Example: "  keyless dev\n" +
			"  keyless dev --examples=false --kubeconfig-out /tmp/keyless/kubeconfig\n" +
			"  keyless dev --policy-file policy.yaml --resync-period 30s --log-level info",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadOver(cmd.Flags(), c, defaults)
			if err != nil {
				return usageError(err)
			}
			if err := checkDevConfig(defaults, &cfg, o.simulate); err != nil {
				return usageError(err)
			}
			log := NewLogger(cfg, stderr)
			ctrl.SetLogger(log)
			return runDev(cmd.Context(), stdout, stderr, o, defaults, cfg, log)
		},
	}
	f := cmd.Flags()
	f.String(config.ConfigFlag, "", "YAML file of settings whose keys are the flag names (for example `policy-file: policy.yaml`).")
	config.BindFlags(f, &c)
	f.StringVar(&o.assets, "assets", o.assets, "Folder with the cluster's binaries and kwok's stages ($KUBEBUILDER_ASSETS when set).")
	f.StringVar(&o.kubeconfig, "kubeconfig-out", o.kubeconfig, "Where to write the kubeconfig of the local cluster; the components' logs go next to it, in cluster/.")
	f.BoolVar(&o.examples, "examples", o.examples, "Apply deploy/examples and print what Keyless changed and the pods that run.")
	f.BoolVar(&o.simulate, "simulate-clouds", o.simulate,
		"Start simulators of EKS, Azure Resource Manager and Google IAM and point Keyless at them. With false, "+
			"the cloud flags (--cluster-name, --aws-region, --aws-endpoint, --azure-*, --gcp-*) say which real or external endpoints to use.")
	return cmd
}

// checkDevConfig validates cfg and refuses the settings that the local
// cluster (and the simulators) make themselves.
func checkDevConfig(defaults config.Config, cfg *config.Config, simulate bool) error {
	var problems []string
	if errs := config.Validate(cfg); len(errs) > 0 {
		problems = append(problems, joinErrs(errs))
	}
	if bad := devenv.Conflicts(defaults, *cfg, devenv.EnvironmentFlags); len(bad) > 0 {
		problems = append(problems, fmt.Sprintf("--%s: set by the local cluster; leave it out", strings.Join(bad, ", --")))
	}
	if simulate {
		if bad := devenv.Conflicts(defaults, *cfg, devenv.SimulatorFlags()); len(bad) > 0 {
			problems = append(problems, fmt.Sprintf("--%s: set by the cloud simulators; add --simulate-clouds=false to use other endpoints",
				strings.Join(bad, ", --")))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func runDev(ctx context.Context, stdout, stderr io.Writer, o devOptions, defaults, cfg config.Config, log logr.Logger) error {
	abs, err := filepath.Abs(o.kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig-out: %w", err)
	}
	opts := devenv.Options{AssetsDir: o.assets, Dir: filepath.Join(filepath.Dir(abs), "cluster"), Config: cfg, Log: log, SimulateClouds: o.simulate}
	// The webhook listens where the API server calls it: a free loopback
	// port unless --webhook-host or --webhook-port says otherwise.
	if cfg.WebhookHost != defaults.WebhookHost {
		opts.WebhookHost = cfg.WebhookHost
	}
	if cfg.WebhookPort != defaults.WebhookPort {
		opts.WebhookPort = cfg.WebhookPort
	}
	fmt.Fprintln(stdout, "starting a local cluster and Keyless ...")
	env, err := devenv.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(stderr, "stopping:", err)
		}
	}()
	if err := env.WriteKubeconfig(abs); err != nil {
		return err
	}
	if o.examples {
		if err := applyExamples(ctx, stdout, env, cfg); err != nil {
			return err
		}
	}
	if env.Clouds != nil {
		fmt.Fprintf(stdout, "\nSimulated clouds: EKS %s, Azure Resource Manager %s, Google IAM %s\n",
			env.Clouds.AWSURL, env.Clouds.AzureURL, env.Clouds.GCPURL)
	}
	fmt.Fprintf(stdout, "Logs of the cluster's components: %s\n", filepath.Join(env.Dir, "*.log"))
	fmt.Fprintf(stdout, "\nTry it:\n  export KUBECONFIG=%s\n  kubectl get deployments,replicasets,pods,serviceaccounts -n orders -o wide\n"+
		"Any Kubernetes client works with that kubeconfig. Press Ctrl-C to stop.\n\n", abs)
	fmt.Fprintf(stdout, "%s kubeconfig=%s\n", ReadyLine, abs)
	<-ctx.Done()
	return nil
}

// applyExamples applies deploy/examples, waits for Keyless and the
// rollouts, and prints what changed, the pods, and the restarts.
func applyExamples(ctx context.Context, stdout io.Writer, env *devenv.Environment, cfg config.Config) error {
	objs, err := devenv.Decode(deploy.Examples)
	if err != nil {
		return err
	}
	if env.Clouds != nil {
		if err := env.Clouds.Seed(objs, annotations.Options{AzureDefaultResourceGroup: cfg.AzureResourceGroup}); err != nil {
			return err
		}
	}
	if err := devenv.Apply(ctx, env.Client, objs); err != nil {
		return err
	}
	if err := devenv.WaitForServiceAccounts(ctx, env.Client, objs, 30*time.Second); err != nil {
		return err
	}
	if err := devenv.WaitForRollouts(ctx, env.Client, objs, 60*time.Second); err != nil {
		return err
	}
	sections := []struct {
		head string
		list func() ([]string, error)
	}{
		{"Applied deploy/examples; Keyless changed in the cluster:", func() ([]string, error) { return devenv.Describe(ctx, env.Client, objs) }},
		{"Pods (made by the Deployment and ReplicaSet controllers, placed by kube-scheduler, run by kwok):",
			func() ([]string, error) { return devenv.DescribePods(ctx, env.Client, namespacesOf(objs)) }},
		{"Restarts:", func() ([]string, error) { return devenv.DescribeRestarts(ctx, env.Client, objs) }},
	}
	if env.Clouds != nil {
		sections = append(sections, struct {
			head string
			list func() ([]string, error)
		}{"and in the simulated clouds:", func() ([]string, error) { return env.Clouds.Describe(), nil }})
	}
	for _, s := range sections {
		lines, err := s.list()
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintln(stdout, "\n"+s.head)
		for _, l := range lines {
			fmt.Fprintln(stdout, "  "+l)
		}
	}
	return nil
}

func namespacesOf(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}
