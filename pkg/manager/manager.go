// Package manager builds the controller-runtime manager that `keyless serve`
// runs: the webhook, the controller, caches, health checks and metrics.
package manager

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/keyless-dev/keyless/pkg/admission"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/policystore"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// parts are what the webhook and the controllers share.
type parts struct {
	mgr      ctrl.Manager
	config   config.Config
	log      logr.Logger
	parse    annotations.Options
	cluster  policy.Cluster
	recorder shortNotes
	policy   *policystore.Store
}

// New builds the manager that `keyless serve` runs: the webhook on
// every replica, the controller on the elected leader, health checks and
// metrics.
func New(ctx context.Context, c config.Config, restCfg *rest.Config, log logr.Logger) (ctrl.Manager, error) {
	mgr, err := newManager(ctx, c, restCfg, log)
	if err != nil {
		return nil, err
	}
	p := parts{mgr: mgr, config: c, log: log,
		parse:    annotations.Options{AzureDefaultResourceGroup: c.AzureResourceGroup},
		cluster:  policy.Cluster{AWSAccount: c.AWSAccountID, AzureSubscription: c.AzureSubscriptionID, GCPProject: c.GCPProject()},
		recorder: shortNotes{mgr.GetEventRecorder("keyless")},
	}
	lookup, err := p.watch(ctx)
	if err != nil {
		return nil, err
	}
	if p.policy, err = newPolicyStore(c, log, p.recorder); err != nil {
		return nil, err
	}
	if err := mgr.Add(p.policy); err != nil {
		return nil, fmt.Errorf("adding the policy reloader: %w", err)
	}
	p.addWebhook(lookup)
	resync, err := p.addControllers(ctx)
	if err != nil {
		return nil, err
	}
	p.policy.OnLoad = onLeader(mgr.Elected(), func() { go resyncAll(ctx, mgr.GetClient(), resync) })
	if err := addHealthChecks(mgr); err != nil {
		return nil, err
	}
	return mgr, nil
}

// newManager makes the manager: its client, caches, webhook and metrics
// servers, and leader election.
func newManager(ctx context.Context, c config.Config, restCfg *rest.Config, log logr.Logger) (ctrl.Manager, error) {
	// client-go's default of 5 requests per second (what a kubeconfig
	// gives) makes the controller crawl through thousands of connections.
	restCfg = rest.CopyConfig(restCfg)
	restCfg.QPS, restCfg.Burst = float32(c.KubeAPIQPS), c.KubeAPIBurst
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("building the scheme: %w", err)
	}
	tlsOpts := []func(*tls.Config){tlsOptions(c)}
	lease := c.LeaseDuration
	renew := lease * 2 / 3
	retry := lease / 7
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme: scheme,
		Logger: log,
		// One controller per manager; a process that builds a second manager
		// (the local environment restarting Keyless) must not trip the
		// per-process name check.
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      CacheOptions(ownNamespace(c)),
		NewCache:   NewCache(ctx),
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: c.WebhookHost, Port: c.WebhookPort,
			CertDir: c.CertDir, CertName: c.CertName, KeyName: c.KeyName,
			TLSOpts: tlsOpts,
		}),
		Metrics:                       metricsOptions(c, tlsOpts),
		HealthProbeBindAddress:        c.HealthAddr,
		LeaderElection:                c.LeaderElect,
		LeaderElectionID:              c.LeaderElectionID,
		LeaderElectionNamespace:       c.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &lease,
		RenewDeadline:                 &renew,
		RetryPeriod:                   &retry,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	return mgr, nil
}

// tlsOptions set the webhook's and the metrics server's TLS versions and
// protocols.
func tlsOptions(c config.Config) func(*tls.Config) {
	return func(t *tls.Config) {
		t.MinVersion = tls.VersionTLS12
		if c.TLSMinVersion == "1.3" {
			t.MinVersion = tls.VersionTLS13
		}
		if !c.EnableHTTP2 {
			t.NextProtos = []string{"http/1.1"}
		}
	}
}

// watch starts, on every replica, the informers that the webhook reads
// (the workloads' start with the cache, see newCache), indexes
// ServiceAccounts by identity, and returns the webhook's lookup.
func (p parts) watch(ctx context.Context) (admission.Lookup, error) {
	lookup, err := NewLookup(ctx, p.mgr.GetCache())
	if err != nil {
		return nil, err
	}
	if err := workload.AddIdentityIndex(ctx, p.mgr.GetFieldIndexer(), p.parse, p.cluster); err != nil {
		return nil, err
	}
	return lookup, nil
}
