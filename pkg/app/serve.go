package app

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/manager"
)

func newServeCommand(stderr io.Writer) *cobra.Command {
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
			if cfg.LeaderElect && cfg.LeaderElectionNamespace == "" && !inCluster() {
				return usageError(errors.New("invalid configuration:\n  --leader-election-namespace: Required value: " +
					"outside a cluster, name the namespace of the leader-election Lease (or --leader-elect=false)"))
			}
			if errs := config.ValidateCertFiles(&cfg); len(errs) > 0 {
				return usageError(fmt.Errorf("invalid configuration:\n  %s", joinErrs(errs)))
			}
			log := NewLogger(cfg, stderr)
			ctrl.SetLogger(log)
			restCfg, err := restConfig(cfg.Kubeconfig)
			if err != nil {
				return err
			}
			mgr, err := manager.New(cmd.Context(), cfg, restCfg, log)
			if err != nil {
				return err
			}
			log.Info("starting keyless", "version", Version, "webhookPort", cfg.WebhookPort, "leaderElect", cfg.LeaderElect,
				"goMemoryLimit", setMemoryLimit())
			return mgr.Start(cmd.Context())
		},
	}
	cmd.Flags().String(config.ConfigFlag, "", "YAML file of settings whose keys are the flag names (for example `webhook-port: 9443`).")
	config.BindFlags(cmd.Flags(), &c)
	return cmd
}

// loadConfig merges the config file under the flags and validates the result.
func loadConfig(cmd *cobra.Command, flagged config.Config) (config.Config, error) {
	cfg, err := config.Load(cmd.Flags(), flagged)
	if err != nil {
		return cfg, usageError(err)
	}
	if errs := config.Validate(&cfg); len(errs) > 0 {
		return cfg, usageError(fmt.Errorf("invalid configuration:\n  %s", joinErrs(errs)))
	}
	return cfg, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, usageError(fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err))
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the cluster (not in a pod, and no --kubeconfig or $KUBECONFIG): %w", err)
	}
	return cfg, nil
}

// inCluster reports whether Keyless runs in a pod, where controller-runtime
// finds the leader-election namespace by itself.
func inCluster() bool {
	_, err := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	return err == nil
}
