package app

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/check"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/policy"
)

const checkLong = "Check Kubernetes manifests without a cluster, with the code the webhook and the controller run.\n" +
	"For every Deployment, StatefulSet, DaemonSet, Job, CronJob and ServiceAccount it validates the keyless.dev\n" +
	"annotations, shows the webhook's changes, the ServiceAccount and the cloud objects the controller would\n" +
	"create, finds conflicts between the objects of the set (applied in order), and evaluates the connection\n" +
	"policy (--policy, else the built-in default) with the labels of the Namespaces in the input; the namespaces\n" +
	"of the input (Namespace documents and those objects are in) exist for its namespace ownership, and\n" +
	"--aws-account-id, --azure-subscription-id and --gcp-project say where the cluster's own identities live.\n\n" +
	"Input: files, directories (*.yaml, *.yml, *.json, recursively) and \"-\" for standard input, which is\n" +
	"also read when no -f is given, e.g. `kustomize build overlays/prod | keyless check`.\n\n" +
	"Exit status: 0 when every object would be admitted (warnings allowed), 1 when the webhook would deny\n" +
	"one (invalid annotations, a conflict, a policy rule in enforce mode), 2 when the input or the policy\n" +
	"cannot be read."

// checkFlags are the flags of `keyless check`.
type checkFlags struct {
	files                 []string
	policyFile, output    string
	defaultServiceAccount string
	opts                  check.Options
}

func newCheckCommand() *cobra.Command {
	f := checkFlags{defaultServiceAccount: "create"}
	cmd := &cobra.Command{
		Use:   "check [-f FILE|DIR|-]...",
		Short: "Check manifests offline: keyless.dev annotations, what Keyless would change, conflicts and policy",
		Long:  checkLong,
		Example: "  keyless check -f deploy/\n" +
			"  kustomize build overlays/prod | keyless check --policy policy.yaml --azure-resource-group shop-rg\n" +
			"  keyless check -f app.yaml -o json",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return UsageError(fmt.Errorf("unexpected argument %q; give files with -f, e.g. keyless check -f %s", args[0], args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return runCheck(cmd, f) },
	}
	f.bind(cmd.Flags())
	return cmd
}

func (f *checkFlags) bind(fs *pflag.FlagSet) {
	fs.StringSliceVarP(&f.files, "filename", "f", nil, "Manifest file, directory (searched recursively) or - for standard input; repeat or separate with commas. Default: standard input.")
	fs.StringVar(&f.policyFile, "policy", "", "ConnectionPolicy file; without it the built-in default policy applies.")
	fs.StringVarP(&f.output, "output", "o", "text", "Output format: text or json.")
	fs.StringVar(&f.opts.Parse.AzureDefaultResourceGroup, "azure-resource-group", "",
		"Default resource group of Azure identities given by name, as in keyless serve.")
	fs.StringVar(&f.opts.Cluster.AWSAccount, "aws-account-id", "",
		"The cluster's 12-digit AWS account, as in keyless serve: policy name patterns match role ARNs only in it.")
	fs.StringVar(&f.opts.Cluster.AzureSubscription, "azure-subscription-id", "",
		"Subscription of Azure identities given by name, as in keyless serve: RESOURCEGROUP/NAME policy patterns match only in it.")
	fs.StringVar(&f.opts.Cluster.GCPProject, "gcp-project", "",
		"The cluster's GCP project (default: that of --gcp-workload-pool): policy patterns without \"@\" match accounts only in it.")
	fs.StringVar(&f.opts.ServiceAccount.AzureTenantID, "azure-tenant-id", "",
		"Azure tenant ID the webhook writes as azure.workload.identity/tenant-id, as in keyless serve.")
	fs.StringVar(&f.defaultServiceAccount, "default-service-account", f.defaultServiceAccount,
		"What the webhook does with a connected workload that runs as \"default\": create or deny, as in keyless serve.")
	fs.BoolVar(&f.opts.Workload.GKENodeSelector, "gke-node-selector", config.Default().GKENodeSelector,
		"The webhook adds the GKE metadata-server nodeSelector to workloads connected to GCP, as in keyless serve.")
	fs.StringVar(&f.opts.GCPWorkloadPool, "gcp-workload-pool", "",
		"The cluster's Workload Identity pool, PROJECT.svc.id.goog, to show in GCP bindings.")
	fs.StringVarP(&f.opts.DefaultNamespace, "namespace", "n", "default", "Namespace of objects that name none.")
}

// runCheck checks the input with the options of f and writes the report.
func runCheck(cmd *cobra.Command, f checkFlags) error {
	o, err := f.options()
	if err != nil {
		return UsageError(err)
	}
	docs, err := check.Load(f.files, cmd.InOrStdin())
	if err != nil {
		return UsageError(fmt.Errorf("unreadable input:\n%w", err))
	}
	report := check.Check(docs, o)
	out := cmd.OutOrStdout()
	if f.output == "json" {
		err = check.WriteJSON(out, report)
	} else {
		err = check.WriteText(out, report)
	}
	if err != nil {
		return err
	}
	if report.Failed() {
		return &ExitError{Code: 1, Err: fmt.Errorf("check failed: %d %s",
			report.Summary.Errors, checkPlural(report.Summary.Errors, "error"))}
	}
	return nil
}

// options validates the flags and returns the options of the check, the
// policy file read.
func (f checkFlags) options() (check.Options, error) {
	o := f.opts
	if f.output != "text" && f.output != "json" {
		return o, fmt.Errorf("-o %q: use text or json", f.output)
	}
	switch f.defaultServiceAccount {
	case "create":
	case "deny":
		o.Workload.DenyDefaultServiceAccount = true
	default:
		return o, fmt.Errorf("--default-service-account %q: use create or deny", f.defaultServiceAccount)
	}
	if err := validateCheckOptions(&o); err != nil {
		return o, err
	}
	if f.policyFile != "" {
		raw, err := os.ReadFile(f.policyFile)
		if err != nil {
			return o, fmt.Errorf("--policy: %w", err)
		}
		p, err := policy.ParseNamed(f.policyFile, raw)
		if err != nil {
			return o, fmt.Errorf("invalid policy:\n%w", err)
		}
		o.Policy = p
	}
	return o, nil
}

func validateCheckOptions(o *check.Options) error {
	var problems []string
	if rg := o.Parse.AzureDefaultResourceGroup; rg != "" {
		if p := annotations.ResourceGroupProblem(rg); p != "" {
			problems = append(problems, "--azure-resource-group: "+p)
		}
	}
	if a := o.Cluster.AWSAccount; a != "" && !isAWSAccount(a) {
		problems = append(problems, fmt.Sprintf("--aws-account-id %q is not a 12-digit AWS account ID", a))
	}
	if s := o.Cluster.AzureSubscription; s != "" && !annotations.IsGUID(s) {
		problems = append(problems, fmt.Sprintf("--azure-subscription-id %q is not a GUID", s))
	}
	if s := o.ServiceAccount.AzureTenantID; s != "" && !annotations.IsGUID(s) {
		problems = append(problems, fmt.Sprintf("--azure-tenant-id %q is not a GUID", s))
	}
	if p := o.GCPWorkloadPool; p != "" && (!strings.HasSuffix(p, ".svc.id.goog") || p == ".svc.id.goog") {
		problems = append(problems, fmt.Sprintf("--gcp-workload-pool %q must be PROJECT.svc.id.goog, e.g. my-project.svc.id.goog", p))
	} else if pool, _ := strings.CutSuffix(p, ".svc.id.goog"); pool != "" {
		switch {
		case o.Cluster.GCPProject == "":
			o.Cluster.GCPProject = pool
		case o.Cluster.GCPProject != pool:
			problems = append(problems, fmt.Sprintf("--gcp-project %q is not the project of --gcp-workload-pool %q; give one of them, or both alike",
				o.Cluster.GCPProject, p))
		}
	}
	if o.DefaultNamespace == "" {
		problems = append(problems, "--namespace must not be empty")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func isAWSAccount(s string) bool {
	return len(s) == 12 && strings.Trim(s, "0123456789") == ""
}

func checkPlural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
