package devenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The control plane's binaries (hack/control-plane.sh), and kwok's stage
// configs in KwokStagesDir of the same folder.
var (
	binaries   = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
	kwokStages = []string{"node-initialize.yaml", "node-heartbeat.yaml", "pod-ready.yaml", "pod-complete.yaml", "pod-delete.yaml"}
)

const (
	// KwokStagesDir is the folder of kwok's stages under the assets folder.
	KwokStagesDir = "kwok-stages"
	// PodCIDR is where the simulated pods' IPs come from: a loopback range,
	// which no real network routes.
	PodCIDR = "127.64.0.0/16"
	// NodeIP is every simulated node's InternalIP, a loopback address on
	// which nothing listens.
	NodeIP = "127.63.0.1"
)

// Cluster is a local control plane that behaves like a real cluster: etcd
// and kube-apiserver (through envtest, with the webhook of deploy/
// registered), kube-controller-manager, kube-scheduler, and kwok playing
// the kubelet of simulated nodes.
type Cluster struct {
	Env        *envtest.Environment
	RestConfig *rest.Config
	Client     client.Client
	// Kubeconfig is an admin kubeconfig file for the control plane.
	Kubeconfig string
	// Dir holds the kubeconfig and the components' logs (NAME.log).
	Dir string

	components []*component
	removeDir  bool
}

func startCluster(ctx context.Context, o Options) (_ *Cluster, err error) {
	if err := CheckAssets(o.AssetsDir); err != nil {
		return nil, err
	}
	c := &Cluster{Dir: o.Dir}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "keyless-cluster-"); err != nil {
			return nil, err
		}
		c.removeDir = true
	} else if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	wh, err := EnvtestWebhookConfiguration()
	if err != nil {
		return nil, err
	}
	c.Env = &envtest.Environment{
		BinaryAssetsDirectory: o.AssetsDir,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{wh},
			LocalServingHost: o.WebhookHost,
			LocalServingPort: o.WebhookPort,
		},
	}
	// envtest turns the ServiceAccount admission plugin off because it runs
	// no controller to make each namespace's default ServiceAccount; this
	// cluster runs one, so pods are admitted as in a real cluster.
	c.Env.ControlPlane.GetAPIServer().Configure().Disable("disable-admission-plugins")
	if c.RestConfig, err = c.Env.Start(); err != nil {
		c.Env = nil
		return nil, fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	if c.Client, err = client.New(c.RestConfig, client.Options{}); err != nil {
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, c.Env.KubeConfig, 0o600); err != nil {
		return nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	nodes := o.Nodes
	if nodes == nil {
		nodes = DefaultNodes
	}
	if err := c.startComponents(o.AssetsDir); err != nil {
		return nil, err
	}
	if err := createNodes(ctx, c.Client, nodes); err != nil {
		return nil, err
	}
	if err := waitNodesReady(ctx, c.Client, nodes, c.check); err != nil {
		return nil, err
	}
	// The ServiceAccount controller has made the default namespace's
	// ServiceAccount: the controller manager runs.
	err = poll(ctx, 60*time.Second, "kube-controller-manager to create default/default", func() (bool, error) {
		if err := c.check(); err != nil {
			return false, err
		}
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "default"}, &corev1.ServiceAccount{})
		return err == nil, client.IgnoreNotFound(err)
	})
	return c, err
}

// startComponents starts the controller manager, the scheduler and kwok,
// and waits until the first two report healthy.
func (c *Cluster) startComponents(assets string) error {
	certDir := c.Env.ControlPlane.APIServer.CertDir
	ca := filepath.Join(c.Dir, "ca.crt")
	if err := os.WriteFile(ca, c.RestConfig.CAData, 0o600); err != nil {
		return fmt.Errorf("writing the cluster CA: %w", err)
	}
	k := c.Kubeconfig
	common := []string{"--kubeconfig=" + k, "--authentication-kubeconfig=" + k, "--authorization-kubeconfig=" + k,
		"--leader-elect=false", "--bind-address=127.0.0.1"}
	health := map[string]string{}
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		port, err := freePort()
		if err != nil {
			return err
		}
		health[name] = "https://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
		args := slices.Concat(common, []string{"--secure-port=" + strconv.Itoa(port), "--cert-dir=" + filepath.Join(c.Dir, name)})
		if name == "kube-controller-manager" {
			// The API server's ServiceAccount signing key, so that the
			// token controller signs what the API server verifies.
			args = append(args, "--controllers=*", "--use-service-account-credentials=false",
				"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"), "--root-ca-file="+ca)
		}
		comp, err := startComponent(assets, c.Dir, name, nil, args...)
		if err != nil {
			return err
		}
		c.components = append(c.components, comp)
	}
	stages := filepath.Join(assets, KwokStagesDir)
	args := []string{"--kubeconfig=" + k, "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake", "--cidr=" + PodCIDR, "--node-ip=" + NodeIP}
	for _, s := range kwokStages {
		args = append(args, "--config="+filepath.Join(stages, s))
	}
	// KWOK_WORKDIR keeps kwok from reading a kwok.yaml of the user's home.
	kwok, err := startComponent(assets, c.Dir, "kwok", []string{"KWOK_WORKDIR=" + filepath.Join(c.Dir, "kwok")}, args...)
	if err != nil {
		return err
	}
	c.components = append(c.components, kwok)
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		if err := waitHealthy(health[name], name, c.check); err != nil {
			return err
		}
	}
	return nil
}

// check reports a component that exited.
func (c *Cluster) check() error {
	for _, comp := range c.components {
		if err := comp.exited(); err != nil {
			return err
		}
	}
	return nil
}

// Check returns an error if a component of the control plane exited.
func (c *Cluster) Check() error { return c.check() }

// Stop stops the components and the control plane, and removes a temporary
// folder.
func (c *Cluster) Stop() error {
	err := stopAll(c.components)
	c.components = nil
	if c.Env != nil {
		err = errors.Join(err, c.Env.Stop())
	}
	if c.removeDir && os.Getenv("KEYLESS_DEVENV_KEEP") == "" {
		_ = os.RemoveAll(c.Dir)
	}
	return err
}

// waitHealthy polls a component's /healthz, which needs no credentials.
func waitHealthy(url, name string, check func() error) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		// The component's self-signed certificate on a loopback port it was given.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
	}}
	return poll(context.Background(), 60*time.Second, name+" to report healthy at "+url, func() (bool, error) {
		if err := check(); err != nil {
			return false, err
		}
		resp, err := hc.Get(url)
		if err != nil {
			return false, nil //nolint:nilerr // not listening yet: poll again
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// CheckAssets reports the first file of the local cluster missing from dir,
// and how to build it.
func CheckAssets(dir string) error {
	need := append([]string{}, binaries...)
	for _, s := range kwokStages {
		need = append(need, filepath.Join(KwokStagesDir, s))
	}
	for _, f := range need {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("no %s in %q: build the local control plane with hack/control-plane.sh "+
				"(or `make control-plane`) and pass its folder with --assets or $KUBEBUILDER_ASSETS", f, dir)
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
