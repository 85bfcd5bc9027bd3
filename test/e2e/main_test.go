// Package e2e runs Keyless on the local cluster of pkg/devenv (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok's
// simulated nodes, built from Go modules by hack/control-plane.sh), with the
// webhook registered from deploy/, the real manager and the cloud simulators.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

var (
	env        *devenv.Environment
	k8s        client.Client
	policyFile string
)

// allowAll is a policy that allows every identity, written out on purpose.
const allowAll = "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  allowRetain: {}\n  rules: []\n"

// assetsDir is $KUBEBUILDER_ASSETS or the folder hack/control-plane.sh fills.
func assetsDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	d, _ := filepath.Abs(filepath.Join("..", "..", "bin", "control-plane"))
	return d
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	log := zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel()))
	ctrl.SetLogger(log)
	cfg := config.Default()
	// Short enough for the drift test to see a resync.
	cfg.ResyncPeriod = 2 * time.Second
	cfg.AWSQPS, cfg.AzureQPS, cfg.GCPQPS = 100, 100, 100
	// Most tests run under a policy that allows everything; the policy
	// tests rewrite the file and wait for the reload.
	dir, err := os.MkdirTemp("", "keyless-e2e-policy")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	policyFile = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(allowAll), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.PolicyFile, cfg.PolicyReloadInterval = policyFile, 100*time.Millisecond
	cfg.PolicyConfigMap = "default/keyless-policy"
	env, err = devenv.Start(context.Background(), devenv.Options{AssetsDir: assetsDir(), Config: cfg, Log: log, SimulateClouds: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test control plane:", err)
		return 1
	}
	k8s = env.Client
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test control plane:", err)
	}
	return code
}
