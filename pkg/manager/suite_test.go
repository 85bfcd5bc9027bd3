package manager

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/keyless-dev/keyless/pkg/config"
)

// The tests that run the manager share one control plane (etcd and
// kube-apiserver from $KUBEBUILDER_ASSETS or bin/control-plane); without
// one they are skipped.
var (
	testEnv   *envtest.Environment
	restCfg   *rest.Config
	k8s       client.Client
	clientset *kubernetes.Clientset
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets, _ = filepath.Abs(filepath.Join("..", "..", "bin", "control-plane"))
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		return m.Run() // the manager tests skip themselves
	}
	ctrl.SetLogger(logr.Discard())
	testEnv = &envtest.Environment{BinaryAssetsDirectory: assets}
	var err error
	if restCfg, err = testEnv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	defer func() { _ = testEnv.Stop() }()
	if k8s, err = client.New(restCfg, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if clientset, err = kubernetes.NewForConfig(restCfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// needControlPlane skips the test when there is no control plane.
func needControlPlane(t *testing.T) {
	t.Helper()
	if testEnv == nil {
		t.Skip("no control plane: build it with hack/control-plane.sh or set KUBEBUILDER_ASSETS")
	}
}

// startManager runs New's manager against the control plane until the test
// ends, with a policy file of its own, metrics and health off (unless
// change turns them on) and leader election on under a Lease named after
// the test. It returns the manager and the policy file's path.
func startManager(t *testing.T, change func(*config.Config)) (ctrl.Manager, string) {
	t.Helper()
	needControlPlane(t)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(allowAll), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	w := testEnv.WebhookInstallOptions
	c.WebhookHost, c.CertDir = w.LocalServingHost, w.LocalServingCertDir
	// A port of its own: a test may run two managers at once.
	c.WebhookPort = freeAddr(t).Port
	c.MetricsAddr, c.HealthAddr = "0", "0"
	c.LeaderElectionNamespace, c.LeaderElectionID = "default", leaseName(t)
	c.PolicyFile, c.PolicyReloadInterval, c.PolicyConfigMap = policyFile, 100*time.Millisecond, "default/keyless-policy"
	if change != nil {
		change(&c)
	}
	if errs := config.Validate(&c); len(errs) > 0 {
		t.Fatalf("invalid configuration: %v", errs.ToAggregate())
	}
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := New(ctx, c, restCfg, logr.Discard())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	sync, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if !mgr.GetCache().WaitForCacheSync(sync) {
		t.Fatal("the caches did not sync")
	}
	return mgr, policyFile
}

// leaseName is a valid Lease name unique to the test.
func leaseName(t *testing.T) string {
	name := []byte("test-")
	for _, r := range []byte(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			name = append(name, r)
		case r >= 'A' && r <= 'Z':
			name = append(name, r-'A'+'a')
		default:
			name = append(name, '-')
		}
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return string(name)
}

// writePolicy replaces the policy file atomically, as the kubelet does.
func writePolicy(t *testing.T, path, doc string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// eventually retries f every 100ms until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeAddr is a free loopback address.
func freeAddr(t *testing.T) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr)
}

const allowAll = "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules: []\n"
