package devcmd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// run starts the environment, applies the examples, prints how to use it
// and the ready line, and runs until ctx ends.
func run(ctx context.Context, stdout, stderr io.Writer, s Settings, log logr.Logger) error {
	kubeconfig, err := filepath.Abs(s.Kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig-out: %w", err)
	}
	fmt.Fprintln(stdout, "starting a local cluster and Keyless ...")
	env, err := devenv.Start(ctx, options(s, kubeconfig, log))
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(stderr, "stopping:", err)
		}
	}()
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	if s.Examples {
		if err := applyExamples(ctx, stdout, env, s.Config); err != nil {
			return err
		}
	}
	if env.Clouds != nil {
		fmt.Fprintf(stdout, "\nSimulated clouds: EKS %s, Azure Resource Manager %s, Google IAM %s\n",
			env.Clouds.AWSURL, env.Clouds.AzureURL, env.Clouds.GCPURL)
	}
	fmt.Fprintf(stdout, "Logs of the cluster's components: %s\n", filepath.Join(env.Dir, "*.log"))
	fmt.Fprintf(stdout, "\nTry it:\n  export KUBECONFIG=%s\n  kubectl get deployments,replicasets,pods,serviceaccounts -n orders -o wide\n"+
		"Any Kubernetes client works with that kubeconfig. Press Ctrl-C to stop.\n\n", kubeconfig)
	fmt.Fprintf(stdout, "%s kubeconfig=%s\n", ReadyLine, kubeconfig)
	<-ctx.Done()
	return nil
}

// options are the environment's options for s, with the components' logs
// next to the kubeconfig. The webhook listens where the API server calls
// it: a free loopback port unless --webhook-host or --webhook-port says
// otherwise.
func options(s Settings, kubeconfig string, log logr.Logger) devenv.Options {
	o := devenv.Options{AssetsDir: s.Assets, Dir: filepath.Join(filepath.Dir(kubeconfig), "cluster"), Config: s.Config, Log: log,
		SimulateClouds: s.SimulateClouds}
	base := defaults()
	if s.Config.WebhookHost != base.WebhookHost {
		o.WebhookHost = s.Config.WebhookHost
	}
	if s.Config.WebhookPort != base.WebhookPort {
		o.WebhookPort = s.Config.WebhookPort
	}
	return o
}

// section is one part of the report on the examples: a heading and its lines.
type section struct {
	head string
	list func() ([]string, error)
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
	sections := []section{
		{"Applied deploy/examples; Keyless changed in the cluster:", func() ([]string, error) { return devenv.Describe(ctx, env.Client, objs) }},
		{"Pods (made by the Deployment and ReplicaSet controllers, placed by kube-scheduler, run by kwok):",
			func() ([]string, error) { return devenv.DescribePods(ctx, env.Client, namespacesOf(objs)) }},
		{"Restarts:", func() ([]string, error) { return devenv.DescribeRestarts(ctx, env.Client, objs) }},
	}
	if env.Clouds != nil {
		sections = append(sections, section{"and in the simulated clouds:", func() ([]string, error) { return env.Clouds.Describe(), nil }})
	}
	return report(stdout, sections)
}

// report prints each section that has lines.
func report(w io.Writer, sections []section) error {
	for _, s := range sections {
		lines, err := s.list()
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintln(w, "\n"+s.head)
		for _, l := range lines {
			fmt.Fprintln(w, "  "+l)
		}
	}
	return nil
}

// namespacesOf lists the namespaces of objs, in order of first appearance.
func namespacesOf(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}
