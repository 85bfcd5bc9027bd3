package app

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/uninstall"
)

func newUninstallCommand(stdout io.Writer) *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Prepare the cluster for removing Keyless: delete the webhook configuration and Keyless's finalizers",
		Long: "Delete the MutatingWebhookConfiguration \"keyless\" and remove the keyless.dev/cloud-cleanup finalizer from\n" +
			"every ServiceAccount, so that nothing waits for Keyless once it is gone. Cloud objects are left in place\n" +
			"(remove the keyless.dev annotations first, while Keyless runs, to have them deleted). Then run\n" +
			"kubectl delete -f deploy/install.yaml.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			c, err := client.New(cfg, client.Options{})
			if err != nil {
				return fmt.Errorf("connecting to the cluster: %w", err)
			}
			return uninstall.Run(cmd.Context(), c, stdout)
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "Path of a kubeconfig; empty means in-cluster or $KUBECONFIG.")
	return cmd
}
