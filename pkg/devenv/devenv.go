// Package devenv runs Keyless on a local cluster that behaves like a real
// one: etcd and kube-apiserver started through controller-runtime's envtest
// with the webhook of deploy/ registered, kube-controller-manager,
// kube-scheduler, and kwok playing the kubelet of simulated nodes (one with
// GKE Workload Identity, one without), all built from Go modules by
// hack/control-plane.sh; simulators of the three clouds; and the real
// manager. keyless-dev, the end-to-end tests, the soak and the scale runs
// all start it with Start.
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
	"sigs.k8s.io/yaml"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/manager"
)

// Options configure a local environment.
type Options struct {
	// AssetsDir holds the binaries and kwok's stages (hack/control-plane.sh).
	AssetsDir string
	// Dir keeps the admin kubeconfig and the components' logs; empty means a
	// temporary folder that Stop removes (kept when $KEYLESS_DEVENV_KEEP is set).
	Dir string
	// Nodes are the simulated nodes; nil means DefaultNodes.
	Nodes []Node
	// WebhookHost and WebhookPort are where the API server calls Keyless's
	// webhook; empty and 0 mean 127.0.0.1 and a free port.
	WebhookHost string
	WebhookPort int
	// Config is the Keyless configuration; KeylessConfig adds what the
	// environment decides.
	Config config.Config
	Log    logr.Logger
	// SimulateClouds starts the three cloud simulators and points Keyless at them.
	SimulateClouds bool
	// NoKeyless leaves Keyless out of this process: the caller runs
	// `keyless serve` with the flags Args(KeylessConfig()) gives.
	NoKeyless bool
}

// Environment is a running cluster, the simulators, and Keyless.
type Environment struct {
	*Cluster
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

// Start starts the cluster, the simulators and Keyless, and returns once
// the nodes are Ready, the webhook answers and Keyless's caches have synced.
func Start(ctx context.Context, opts Options) (_ *Environment, err error) {
	e := &Environment{opts: opts}
	if e.Cluster, err = startCluster(ctx, opts); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()
	if opts.SimulateClouds {
		if e.Clouds, err = StartClouds(); err != nil {
			return nil, err
		}
		e.Clouds.Configure(&e.opts.Config)
	}
	if opts.NoKeyless {
		return e, nil
	}
	return e, e.StartKeyless(ctx)
}

// KeylessConfig is the configuration Keyless runs with: Options.Config
// pointed at the simulators (when they run), with the webhook address and
// certificate the API server calls, the cluster's admin kubeconfig, the
// leader-election namespace "default" unless one is set (Keyless keeps its
// records of cloud objects there), and metrics off unless an address other
// than the default is set.
func (e *Environment) KeylessConfig() config.Config {
	c := e.opts.Config
	if c.MetricsAddr == config.Default().MetricsAddr {
		c.MetricsAddr = "0"
	}
	w := e.Env.WebhookInstallOptions
	c.WebhookHost, c.WebhookPort, c.CertDir = w.LocalServingHost, w.LocalServingPort, w.LocalServingCertDir
	c.CertName, c.KeyName = config.Default().CertName, config.Default().KeyName
	c.Kubeconfig = e.Kubeconfig
	if c.LeaderElectionNamespace == "" {
		c.LeaderElectionNamespace = "default"
	}
	return c
}

// StartKeyless starts the Keyless manager against the cluster and waits
// until it is ready. It may be called again after StopKeyless.
func (e *Environment) StartKeyless(ctx context.Context) error {
	c := e.KeylessConfig()
	// Readiness is read from the health endpoint, so it is always served:
	// on a free loopback port unless an address other than the default,
	// with a port, is set.
	if _, port, _ := net.SplitHostPort(c.HealthAddr); c.HealthAddr == config.Default().HealthAddr || port == "" || port == "0" {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		c.HealthAddr = addr
	}
	if errs := config.Validate(&c); len(errs) > 0 {
		return fmt.Errorf("invalid configuration: %w", errs.ToAggregate())
	}
	mctx, cancel := context.WithCancel(ctx)
	mgr, err := manager.New(mctx, c, e.RestConfig, withoutDeliberateStopError(e.opts.Log))
	if err != nil {
		cancel()
		return err
	}
	e.stop, e.done, e.health = cancel, make(chan error, 1), readyURL(c.HealthAddr)
	go func() { e.done <- mgr.Start(mctx) }()
	return e.waitReady(ctx)
}

// StopKeyless stops the manager (webhook and controller); the cluster
// stays. It returns once the webhook's port is free for the next start.
func (e *Environment) StopKeyless() error {
	if e.stop == nil {
		return nil
	}
	e.stop()
	e.stop = nil
	err := <-e.done
	// A manager that led returns without waiting for its servers once it
	// has released the lease (controller-runtime skips the graceful
	// shutdown when leadership ends).
	w := e.Env.WebhookInstallOptions
	return errors.Join(err, waitPortFree(net.JoinHostPort(w.LocalServingHost, strconv.Itoa(w.LocalServingPort)), 10*time.Second))
}

// waitPortFree waits until addr can be listened on.
func waitPortFree(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			return l.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the webhook's address %s is still in use %s after Keyless stopped: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops Keyless, the cluster and the simulators.
func (e *Environment) Stop() error {
	err := e.StopKeyless()
	if e.Cluster != nil {
		err = errors.Join(err, e.Cluster.Stop())
	}
	if e.Clouds != nil {
		e.Clouds.Close()
	}
	return err
}

func (e *Environment) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-e.done:
			e.stop = nil
			return fmt.Errorf("keyless stopped while starting: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(e.health)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("keyless did not become ready within 60s (%s)", e.health)
		}
	}
}

// WriteKubeconfig writes an admin kubeconfig for the cluster to path.
func (e *Environment) WriteKubeconfig(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("creating the kubeconfig folder: %w", err)
	}
	if err := os.WriteFile(path, e.Env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return nil
}

func readyURL(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}

func freeAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}
