// Package devcmd is the command of keyless-dev, the local development
// environment: a local cluster (pkg/devenv) with the cloud simulators and
// Keyless, the examples applied. It takes every flag of `keyless serve`.
// It is a binary of its own so that the release carries no simulators.
package devcmd

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/keyless-dev/keyless/pkg/app"
	"github.com/keyless-dev/keyless/pkg/config"
)

// ReadyLine starts the line keyless-dev prints once everything runs, so
// that programs can wait for it.
const ReadyLine = "keyless dev: ready"

// Settings are what the environment runs with: Keyless's configuration and
// the flags of keyless-dev beyond those of `keyless serve`.
type Settings struct {
	Config config.Config
	// Assets holds the cluster's binaries and kwok's stages.
	Assets string
	// Kubeconfig is where the cluster's kubeconfig is written.
	Kubeconfig string
	// Examples applies deploy/examples and reports what Keyless did.
	Examples bool
	// SimulateClouds starts the cloud simulators and points Keyless at them.
	SimulateClouds bool
}

// runFunc runs the environment with settings that passed validation.
type runFunc func(ctx context.Context, s Settings) error

// Run runs the keyless-dev command line with args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newCommand(func(ctx context.Context, s Settings) error {
		log := app.NewLogger(s.Config, stderr)
		ctrl.SetLogger(log)
		return run(ctx, stdout, stderr, s, log)
	})
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

// defaults are `keyless serve`'s defaults, but for people at a terminal.
func defaults() config.Config {
	c := config.Default()
	c.LogFormat, c.LogLevel = "text", "error"
	c.LeaderElectionNamespace = "default"
	return c
}

const long = "Start a local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok running the pods\n" +
	"of two simulated nodes, one with GKE Workload Identity), run Keyless against it with generated certificates\n" +
	"and the webhook configuration of deploy/, apply the examples, print what Keyless changed and the pods that\n" +
	"run, write a kubeconfig, and keep running until interrupted. Build the cluster's binaries first with\n" +
	"hack/control-plane.sh (`make dev` does both).\n\n" +
	"Every flag of `keyless serve` is accepted, --config included. The local cluster sets --kubeconfig and the\n" +
	"webhook certificate (--cert-dir, --cert-name, --key-name); --simulate-clouds sets the cluster name and each\n" +
	"cloud's account and endpoint."

// newCommand returns the keyless-dev command, which parses and validates
// its flags and hands the settings to run.
func newCommand(run runFunc) *cobra.Command {
	base := defaults()
	s := Settings{Config: base, Assets: os.Getenv("KUBEBUILDER_ASSETS"), Kubeconfig: filepath.Join("bin", "dev", "kubeconfig"),
		Examples: true, SimulateClouds: true}
	if s.Assets == "" {
		s.Assets = filepath.Join("bin", "control-plane")
	}
	cmd := &cobra.Command{
		Use:   "keyless-dev",
		Short: "Run Keyless on a local cluster with the examples applied",
		Long:  long,
		Example: "  keyless-dev\n" +
			"  keyless-dev --examples=false --kubeconfig-out /tmp/keyless/kubeconfig\n" +
			"  keyless-dev --policy-file policy.yaml --resync-period 30s --log-level info",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadOver(cmd.Flags(), s.Config, base)
			if err != nil {
				return app.UsageError(err)
			}
			if err := validate(base, &cfg, s.SimulateClouds); err != nil {
				return app.UsageError(err)
			}
			valid := s
			valid.Config = cfg
			return run(cmd.Context(), valid)
		},
	}
	cmd.SetFlagErrorFunc(app.FlagError)
	bindFlags(cmd, &s)
	return cmd
}

func bindFlags(cmd *cobra.Command, s *Settings) {
	f := cmd.Flags()
	f.String(config.ConfigFlag, "", "YAML file of settings whose keys are the flag names (for example `policy-file: policy.yaml`).")
	config.BindFlags(f, &s.Config)
	f.StringVar(&s.Assets, "assets", s.Assets, "Folder with the cluster's binaries and kwok's stages ($KUBEBUILDER_ASSETS when set).")
	f.StringVar(&s.Kubeconfig, "kubeconfig-out", s.Kubeconfig,
		"Where to write the kubeconfig of the local cluster; the components' logs go next to it, in cluster/.")
	f.BoolVar(&s.Examples, "examples", s.Examples, "Apply deploy/examples and print what Keyless changed and the pods that run.")
	f.BoolVar(&s.SimulateClouds, "simulate-clouds", s.SimulateClouds,
		"Start simulators of EKS, Azure Resource Manager and Google IAM and point Keyless at them. With false, "+
			"the cloud flags (--cluster-name, --aws-region, --aws-endpoint, --azure-*, --gcp-*) say which real or external endpoints to use.")
}
