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
	"github.com/keyless-dev/keyless/pkg/annotations"
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
	examples, simulate := true, true
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
			env, err := devenv.Start(ctx, devenv.Options{AssetsDir: assets, Config: c, Log: log, SimulateClouds: simulate})
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
				if env.Clouds != nil {
					if err := env.Clouds.Seed(objs, annotations.Options{AzureDefaultResourceGroup: c.AzureResourceGroup}); err != nil {
						return err
					}
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
				fmt.Fprintln(stdout, "\nApplied deploy/examples; Keyless changed in the cluster:")
				for _, l := range lines {
					fmt.Fprintln(stdout, "  "+l)
				}
				if env.Clouds != nil {
					fmt.Fprintln(stdout, "\nand in the simulated clouds:")
					for _, l := range env.Clouds.Describe() {
						fmt.Fprintln(stdout, "  "+l)
					}
				}
			}
			if env.Clouds != nil {
				fmt.Fprintf(stdout, "\nSimulated clouds: EKS %s, Azure Resource Manager %s, Google IAM %s\n",
					env.Clouds.AWSURL, env.Clouds.AzureURL, env.Clouds.GCPURL)
			}
			fmt.Fprintf(stdout, "\nTry it:\n  export KUBECONFIG=%s\n  kubectl get deployments,serviceaccounts -n orders -o yaml\n"+
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
	f.BoolVar(&simulate, "simulate-clouds", simulate,
		"Start simulators of EKS, Azure Resource Manager and Google IAM and point Keyless at them. With false, "+
			"the cloud flags below (--cluster-name, --aws-region, --aws-endpoint, --azure-*, --gcp-*) say which real or external endpoints to use.")
	f.StringVar(&c.ClusterName, "cluster-name", c.ClusterName, "Cluster name in the clouds (with --simulate-clouds=false).")
	f.StringVar(&c.CloudCredentials, "cloud-credentials", c.CloudCredentials, "default or anonymous (with --simulate-clouds=false).")
	f.StringVar(&c.AWSRegion, "aws-region", c.AWSRegion, "EKS region; turns AWS on (with --simulate-clouds=false).")
	f.StringVar(&c.AWSEndpoint, "aws-endpoint", c.AWSEndpoint, "EKS endpoint URL (with --simulate-clouds=false).")
	f.StringVar(&c.AzureSubscriptionID, "azure-subscription-id", c.AzureSubscriptionID, "Azure subscription; turns Azure on (with --simulate-clouds=false).")
	f.StringVar(&c.AzureOIDCIssuerURL, "azure-oidc-issuer-url", c.AzureOIDCIssuerURL, "OIDC issuer URL (with --simulate-clouds=false).")
	f.StringVar(&c.AzureEndpoint, "azure-endpoint", c.AzureEndpoint, "Azure Resource Manager URL (with --simulate-clouds=false).")
	f.StringVar(&c.GCPWorkloadPool, "gcp-workload-pool", c.GCPWorkloadPool, "Workload pool; turns GCP on (with --simulate-clouds=false).")
	f.StringVar(&c.GCPEndpoint, "gcp-endpoint", c.GCPEndpoint, "Google IAM URL (with --simulate-clouds=false).")
	f.StringVar(&c.LogLevel, "log-level", c.LogLevel, "Log level of Keyless: error, info, debug, or a verbosity from 0 to 10.")
	f.StringVar(&c.LogFormat, "log-format", c.LogFormat, "Log format: json or text.")
	f.StringVar(&c.DefaultServiceAccount, "default-service-account", c.DefaultServiceAccount, "create or deny (see keyless serve --help).")
	f.BoolVar(&c.GKENodeSelector, "gke-node-selector", c.GKENodeSelector, "Add the GKE metadata-server nodeSelector for GCP.")
	f.StringVar(&c.AzureTenantID, "azure-tenant-id", c.AzureTenantID, "Azure tenant ID for azure.workload.identity/tenant-id.")
	f.StringVar(&c.AzureResourceGroup, "azure-resource-group", c.AzureResourceGroup, "Default resource group of Azure identities.")
	return cmd
}
