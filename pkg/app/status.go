package app

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/record"
	"github.com/keyless-dev/keyless/pkg/status"
)

// statusLister lists ServiceAccounts, and the records of retained cloud
// objects: in namespace, or in all namespaces when namespace is "". Tests
// replace newStatusLister.
type statusLister func(ctx context.Context, namespace string) ([]corev1.ServiceAccount, []record.Entry, error)

// newStatusLister connects to the cluster of kubeconfig (empty: in-cluster
// or $KUBECONFIG) and returns a lister and the namespace of the current
// context.
var newStatusLister = func(kubeconfig, keylessNamespace string) (statusLister, string, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to the cluster: %w", err)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	list := func(ctx context.Context, namespace string) ([]corev1.ServiceAccount, []record.Entry, error) {
		var l corev1.ServiceAccountList
		if err := c.List(ctx, &l, client.InNamespace(namespace)); err != nil {
			where := "namespace " + namespace
			if namespace == "" {
				where = "all namespaces"
			}
			return nil, nil, fmt.Errorf("listing the ServiceAccounts of %s: %w", where, err)
		}
		all, err := (&record.Store{Client: c, Namespace: keylessNamespace}).All(ctx, "")
		if apierrors.IsForbidden(err) {
			// Reading Keyless's namespace is for cluster administrators.
			return l.Items, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		var records []record.Entry
		for _, e := range all {
			if namespace == "" || e.Namespace == namespace {
				records = append(records, e)
			}
		}
		return l.Items, records, nil
	}
	return list, ns, nil
}

func newStatusCommand() *cobra.Command {
	var (
		namespace, output, kubeconfig, keylessNamespace string
		all                                             bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cloud connections of ServiceAccounts and their state",
		Long: "List the ServiceAccounts with keyless.dev connections and, per cloud, the state the controller recorded\n" +
			"in their keyless.dev/status-<cloud> annotations: Ready, Pending (also before the first sync), Error or\n" +
			"CloudDisabled, with the identity, the time of the last sync and the controller's message. Cloud objects kept\n" +
			"after their connection went away (deletion-policy: retain) are listed as Retained, from Keyless's records\n" +
			"in --keyless-namespace, when you may read them.",
		Example: "  keyless status -n demo\n  keyless status -A -o json",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return UsageError(fmt.Errorf("unexpected argument %q; status takes flags only", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return UsageError(fmt.Errorf("-o %q: use table or json", output))
			}
			if all && cmd.Flags().Changed("namespace") {
				return UsageError(fmt.Errorf("give either -n/--namespace or -A/--all-namespaces, not both"))
			}
			list, current, err := newStatusLister(kubeconfig, keylessNamespace)
			if err != nil {
				return err
			}
			switch {
			case all:
				namespace = ""
			case namespace == "":
				namespace = current
			}
			sas, records, err := list(cmd.Context(), namespace)
			if err != nil {
				return err
			}
			rows := status.Rows(sas, records)
			if output == "json" {
				return status.WriteJSON(cmd.OutOrStdout(), rows)
			}
			if len(rows) == 0 {
				where := "namespace " + namespace
				if all {
					where = "any namespace"
				}
				_, err := fmt.Fprintf(cmd.ErrOrStderr(), "No ServiceAccounts with keyless.dev connections in %s.\n", where)
				return err
			}
			return status.WriteTable(cmd.OutOrStdout(), rows, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&namespace, "namespace", "n", "", "Namespace to list; default: the namespace of the kubeconfig's context.")
	f.BoolVarP(&all, "all-namespaces", "A", false, "List the ServiceAccounts of every namespace.")
	f.StringVarP(&output, "output", "o", "table", "Output format: table or json.")
	f.StringVar(&kubeconfig, "kubeconfig", "", "Path of a kubeconfig; empty means in-cluster or $KUBECONFIG.")
	f.StringVar(&keylessNamespace, "keyless-namespace", "keyless-system",
		"Namespace Keyless runs in, where it records the cloud objects it made (read for retained ones when allowed).")
	return cmd
}
