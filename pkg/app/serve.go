package app

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/manager"
)

// serveFunc runs Keyless with a configuration that passed validation.
type serveFunc func(ctx context.Context, cfg config.Config) error

// newServeCommand returns `keyless serve`, which parses and validates the
// configuration and hands it to run: serve, or a stand-in in tests.
func newServeCommand(run serveFunc) *cobra.Command {
	c := config.Default()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the admission webhook and the controller",
		Long: "Run the admission webhook (on every replica) and the leader-elected controller in one process.\n" +
			"Settings come from flags and, optionally, a YAML file (--config) whose keys are the flag names;\n" +
			"flags given on the command line win over the file.",
		Example: "  keyless serve --cluster-name prod --aws-region eu-west-1 --aws-account-id 123456789012\n" +
			"  keyless serve --config /etc/keyless/config.yaml --log-level debug",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, c)
			if err != nil {
				return err
			}
			return run(cmd.Context(), cfg)
		},
	}
	cmd.Flags().String(config.ConfigFlag, "", "YAML file of settings whose keys are the flag names (for example `webhook-port: 9443`).")
	config.BindFlags(cmd.Flags(), &c)
	return cmd
}

// serve starts the manager (webhook and controller) and runs until ctx ends.
func serve(ctx context.Context, cfg config.Config, stderr io.Writer) error {
	log := NewLogger(cfg, stderr)
	ctrl.SetLogger(log)
	restCfg, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	mgr, err := manager.New(ctx, cfg, restCfg, log)
	if err != nil {
		return err
	}
	log.Info("starting keyless", "version", Version, "webhookPort", cfg.WebhookPort, "leaderElect", cfg.LeaderElect,
		"goMemoryLimit", setMemoryLimit())
	return mgr.Start(ctx)
}

// loadConfig merges the config file under the flags and returns the result
// if `keyless serve` can start with it on this host.
func loadConfig(cmd *cobra.Command, flagged config.Config) (config.Config, error) {
	cfg, err := config.Load(cmd.Flags(), flagged)
	if err != nil {
		return cfg, UsageError(err)
	}
	if errs := config.ValidateServe(&cfg, config.CurrentHost()); len(errs) > 0 {
		return cfg, UsageError(fmt.Errorf("invalid configuration:\n  %s", joinErrs(errs)))
	}
	return cfg, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, UsageError(fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err))
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the cluster (not in a pod, and no --kubeconfig or $KUBECONFIG): %w", err)
	}
	return cfg, nil
}
