// Package e2e runs Keyless against a real kube-apiserver and etcd (built from
// Go modules by hack/control-plane.sh) through envtest, with the webhook
// registered from deploy/ and the real manager.
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
	env *devenv.Environment
	k8s client.Client
)

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
	var err error
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
