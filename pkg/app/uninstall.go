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
		Short: "Prepare the cluster for removing Keyless: stop it, delete its webhook and finalizer guard, remove its finalizers",
		Long: "Scale the Deployment keyless-system/keyless to 0 and wait until its pods are gone (a running Keyless would\n" +
			"add its finalizers back), delete the MutatingWebhookConfiguration \"keyless\" and the ValidatingAdmissionPolicy\n" +
			"\"keyless-finalizer\" with its binding, then remove the keyless.dev/cloud-cleanup finalizer from every\n" +
			"ServiceAccount, so that nothing waits for Keyless once it is gone. Cloud objects are left in place, and so\n" +
			"are Keyless's records of them in keyless-system until that namespace is deleted (remove the keyless.dev\n" +
			"annotations first, while Keyless runs, to have the objects deleted). Then run kubectl delete -f deploy/install.yaml.",
		Example: "  keyless uninstall\n  keyless uninstall --kubeconfig ~/.kube/prod && kubectl delete -f deploy/install.yaml",
		Args:    cobra.NoArgs,
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
