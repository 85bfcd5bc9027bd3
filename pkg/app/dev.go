package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// ReadyLine starts the line `keyless dev` prints once everything runs, so
// that programs can wait for it.
const ReadyLine = "keyless dev: ready"

func newDevCommand(stdout, stderr io.Writer) *cobra.Command {
	c := config.Default()
	c.LogFormat, c.LogLevel = "text", "error"
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("bin", "control-plane")
	}
	kubeconfig := filepath.Join("bin", "dev", "kubeconfig")
	examples := true
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run Keyless on a local control plane with the examples applied",
		Long: "Start a local etcd and kube-apiserver, run Keyless against them with generated certificates and the\n" +
			"webhook configuration of deploy/, apply the examples, print what Keyless changed, write a kubeconfig,\n" +
			"and keep running until interrupted. Build the control plane first with hack/control-plane.sh\n" +
			"(`make dev` does both).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if errs := config.Validate(&c); len(errs) > 0 {
				return usageError(fmt.Errorf("invalid configuration:\n  %s", joinErrs(errs)))
			}
			log := NewLogger(c, stderr)
			ctrl.SetLogger(log)
			ctx := cmd.Context()
			fmt.Fprintln(stdout, "starting a local control plane and Keyless ...")
			env, err := devenv.Start(ctx, devenv.Options{AssetsDir: assets, Config: c, Log: log})
			if err != nil {
				return err
			}
			defer func() {
				if err := env.Stop(); err != nil {
					fmt.Fprintln(stderr, "stopping:", err)
				}
			}()
			abs, err := filepath.Abs(kubeconfig)
			if err != nil {
				return fmt.Errorf("--kubeconfig-out: %w", err)
			}
			if err := env.WriteKubeconfig(abs); err != nil {
				return err
			}
			if examples {
				objs, err := devenv.Decode(deploy.Examples)
				if err != nil {
					return err
				}
				if err := devenv.Apply(ctx, env.Client, objs); err != nil {
					return err
				}
				if err := devenv.WaitForServiceAccounts(ctx, env.Client, objs, 30*time.Second); err != nil {
					return err
				}
				lines, err := devenv.Describe(ctx, env.Client, objs)
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, "\nApplied deploy/examples; Keyless changed:")
				for _, l := range lines {
					fmt.Fprintln(stdout, "  "+l)
				}
			}
			fmt.Fprintf(stdout, "\nTry it:\n  export KUBECONFIG=%s\n  kubectl get deployments,serviceaccounts -n demo -o yaml\n"+
				"Any Kubernetes client works with that kubeconfig. Press Ctrl-C to stop.\n\n", abs)
			fmt.Fprintf(stdout, "%s kubeconfig=%s\n", ReadyLine, abs)
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&assets, "assets", assets, "Folder with the etcd and kube-apiserver binaries (default $KUBEBUILDER_ASSETS or bin/control-plane).")
	f.StringVar(&kubeconfig, "kubeconfig-out", kubeconfig, "Where to write the kubeconfig of the local control plane.")
	f.BoolVar(&examples, "examples", examples, "Apply deploy/examples and print what Keyless changed.")
	f.StringVar(&c.LogLevel, "log-level", c.LogLevel, "Log level of Keyless: error, info, debug, or a verbosity from 0 to 10.")
	f.StringVar(&c.LogFormat, "log-format", c.LogFormat, "Log format: json or text.")
	f.StringVar(&c.DefaultServiceAccount, "default-service-account", c.DefaultServiceAccount, "create or deny (see keyless serve --help).")
	f.BoolVar(&c.GKENodeSelector, "gke-node-selector", c.GKENodeSelector, "Add the GKE metadata-server nodeSelector for GCP.")
	f.StringVar(&c.AzureTenantID, "azure-tenant-id", c.AzureTenantID, "Azure tenant ID for azure.workload.identity/tenant-id.")
	f.StringVar(&c.AzureResourceGroup, "azure-resource-group", c.AzureResourceGroup, "Default resource group of Azure identities.")
	return cmd
}
