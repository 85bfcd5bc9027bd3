// Package devenv runs Keyless on a local control plane: a real etcd and
// kube-apiserver started through controller-runtime's envtest, the webhook
// registered from deploy/ with generated certificates, and the real manager.
// `keyless dev` and the end-to-end tests both use it.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/manager"
)

// Options configure a local environment.
type Options struct {
	// AssetsDir holds the etcd and kube-apiserver binaries (hack/control-plane.sh).
	AssetsDir string
	// Config is the Keyless configuration; the webhook address, certificates,
	// metrics, health and leader-election namespace are set by Start.
	Config config.Config
	Log    logr.Logger
	// SimulateClouds starts the three cloud simulators and points Keyless at them.
	SimulateClouds bool
}

// Environment is a running control plane with Keyless attached.
type Environment struct {
	Env        *envtest.Environment
	RestConfig *rest.Config
	Client     client.Client
	// Clouds are the simulators, when Options.SimulateClouds is set.
	Clouds *Clouds

	opts   Options
	stop   context.CancelFunc
	done   chan error
	health string
}

// WebhookConfiguration returns the MutatingWebhookConfiguration of deploy/.
func WebhookConfiguration() (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	wh := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := yaml.UnmarshalStrict(deploy.WebhookConfiguration, wh); err != nil {
		return nil, fmt.Errorf("decoding the webhook configuration of deploy/install.yaml: %w", err)
	}
	return wh, nil
}

// EnvtestWebhookConfiguration is WebhookConfiguration made ready for
// envtest, which joins host:port and the path with a "/" of its own.
func EnvtestWebhookConfiguration() (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	wh, err := WebhookConfiguration()
	if err != nil {
		return nil, err
	}
	for i := range wh.Webhooks {
		if s := wh.Webhooks[i].ClientConfig.Service; s != nil && s.Path != nil {
			p := strings.TrimPrefix(*s.Path, "/")
			s.Path = &p
		}
	}
	return wh, nil
}

// Start starts the control plane and Keyless, and returns once the webhook
// answers and the caches have synced.
func Start(ctx context.Context, opts Options) (*Environment, error) {
	if err := checkAssets(opts.AssetsDir); err != nil {
		return nil, err
	}
	wh, err := EnvtestWebhookConfiguration()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: opts.AssetsDir,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{wh},
		},
	}
	restCfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the local control plane: %w", err)
	}
	e := &Environment{Env: env, RestConfig: restCfg, opts: opts}
	if e.Client, err = client.New(restCfg, client.Options{}); err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	if opts.SimulateClouds {
		if e.Clouds, err = StartClouds(); err != nil {
			_ = env.Stop()
			return nil, err
		}
		e.Clouds.Configure(&e.opts.Config)
	}
	if err := e.StartKeyless(ctx); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

// StartKeyless starts the Keyless manager against the control plane and
// waits until it is ready. It may be called again after StopKeyless.
func (e *Environment) StartKeyless(ctx context.Context) error {
	health, err := freeAddr()
	if err != nil {
		return err
	}
	w := e.Env.WebhookInstallOptions
	c := e.opts.Config
	c.WebhookHost, c.WebhookPort, c.CertDir = w.LocalServingHost, w.LocalServingPort, w.LocalServingCertDir
	c.MetricsAddr, c.HealthAddr = "0", health
	if c.LeaderElectionNamespace == "" {
		c.LeaderElectionNamespace = "default"
	}
	if errs := config.Validate(&c); len(errs) > 0 {
		return fmt.Errorf("invalid configuration: %v", errs.ToAggregate())
	}
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, c, e.RestConfig, e.opts.Log)
	if err != nil {
		cancel()
		return err
	}
	e.stop, e.done, e.health = cancel, make(chan error, 1), health
	go func() { e.done <- mgr.Start(mctx) }()
	return e.waitReady(ctx)
}

// StopKeyless stops the manager (webhook and controller); the control plane stays.
func (e *Environment) StopKeyless() error {
	if e.stop == nil {
		return nil
	}
	e.stop()
	e.stop = nil
	return <-e.done
}

// Stop stops Keyless, the control plane and the simulators.
func (e *Environment) Stop() error {
	err := errors.Join(e.StopKeyless(), e.Env.Stop())
	if e.Clouds != nil {
		e.Clouds.Close()
	}
	return err
}

// Config is the configuration Keyless runs with (clouds included).
func (e *Environment) Config() config.Config { return e.opts.Config }

func (e *Environment) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	url := "http://" + e.health + "/readyz"
	for {
		select {
		case err := <-e.done:
			e.stop = nil
			return fmt.Errorf("keyless stopped while starting: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(url) //nolint:gosec // a loopback address chosen above
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("keyless did not become ready within 60s (%s)", url)
		}
	}
}

// WriteKubeconfig writes an admin kubeconfig for the control plane to path.
func (e *Environment) WriteKubeconfig(path string) error {
	user, err := e.Env.AddUser(envtest.User{Name: "keyless-dev", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding a user: %w", err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("building the kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the kubeconfig folder: %w", err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return nil
}

func checkAssets(dir string) error {
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return fmt.Errorf("no %s in %q: build the local control plane with hack/control-plane.sh "+
				"(or `make control-plane`) and pass its folder with --assets or $KUBEBUILDER_ASSETS", bin, dir)
		}
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
