// Package manager builds the controller-runtime manager that `keyless serve`
// runs: the webhook, the controller, caches, health checks and metrics.
package manager

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/keyless-dev/keyless/pkg/admission"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/controller"
	"github.com/keyless-dev/keyless/pkg/mutation"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/record"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// New builds the manager that `keyless serve` runs: the webhook on
// every replica, the controller on the elected leader, health checks and
// metrics.
func New(ctx context.Context, c config.Config, restCfg *rest.Config, log logr.Logger) (ctrl.Manager, error) {
	// client-go's default of 5 requests per second (what a kubeconfig
	// gives) makes the controller crawl through thousands of connections.
	restCfg = rest.CopyConfig(restCfg)
	restCfg.QPS, restCfg.Burst = float32(c.KubeAPIQPS), c.KubeAPIBurst
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("building the scheme: %w", err)
	}
	tlsOpts := []func(*tls.Config){func(t *tls.Config) {
		t.MinVersion = tls.VersionTLS12
		if c.TLSMinVersion == "1.3" {
			t.MinVersion = tls.VersionTLS13
		}
		if !c.EnableHTTP2 {
			t.NextProtos = []string{"http/1.1"}
		}
	}}
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
		Cache:      withRecords(cacheOptions(), ownNamespace(c)),
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
	if err := workload.AddIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	if _, err := mgr.GetCache().GetInformer(ctx, &corev1.ServiceAccount{}); err != nil {
		return nil, fmt.Errorf("watching ServiceAccounts: %w", err)
	}

	if _, err := mgr.GetCache().GetInformer(ctx, &corev1.Namespace{}); err != nil {
		return nil, fmt.Errorf("watching Namespaces: %w", err)
	}
	parse := annotations.Options{AzureDefaultResourceGroup: c.AzureResourceGroup}
	cluster := policy.Cluster{AWSAccount: c.AWSAccountID, AzureSubscription: c.AzureSubscriptionID, GCPProject: c.GCPProject()}
	if err := workload.AddIdentityIndex(ctx, mgr.GetFieldIndexer(), parse, cluster); err != nil {
		return nil, err
	}
	if err := record.AddIndex(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	records := &record.Store{Client: mgr.GetClient(), Namespace: ownNamespace(c)}
	recorder := shortNotes{mgr.GetEventRecorder("keyless")}
	store, err := newPolicyStore(c, log, recorder)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(store); err != nil {
		return nil, fmt.Errorf("adding the policy reloader: %w", err)
	}
	mgr.GetWebhookServer().Register(admission.Path, &admission.Handler{
		Policy: store.Current,
		Audit:  auditEvents(recorder),
		Options: admission.Options{
			Parse:   parse,
			Cluster: cluster,
			Workload: mutation.WorkloadOptions{
				DenyDefaultServiceAccount: c.DefaultServiceAccount == "deny",
				GKENodeSelector:           c.GKENodeSelector,
			},
			ServiceAccount: mutation.ServiceAccountOptions{AzureTenantID: c.AzureTenantID, Finalizer: annotations.Finalizer, RecordPending: true},
		},
		Lookup: cacheLookup{mgr.GetCache()},
		Log:    log.WithName("admission"),
	})

	providers, err := Providers(ctx, c)
	if err != nil {
		return nil, err
	}
	log.Info("clouds", "configured", describeClouds(providers))
	// Propagation from workloads to ServiceAccounts in one queue; each
	// cloud's side in a queue of its own, so that one cloud's spent budget
	// does not hold up the others.
	if err := (&controller.ServiceAccountReconciler{
		Workers:  c.Workers,
		Client:   mgr.GetClient(),
		Recorder: recorder,
		Options:  parse,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the ServiceAccount controller: %w", err)
	}
	var resync []chan event.GenericEvent
	sweeper := &controller.Sweeper{Records: records, Every: c.ResyncPeriod, Queues: map[cloud.Name]chan<- event.GenericEvent{}}
	for _, cl := range []cloud.Name{cloud.AWS, cloud.Azure, cloud.GCP} {
		ch := make(chan event.GenericEvent)
		resync = append(resync, ch)
		sweeper.Queues[cl] = ch
		if err := (&controller.CloudReconciler{
			Client: mgr.GetClient(), Cloud: cl, Workers: c.Workers, Resync: ch,
			// One reconcile makes at most a few cloud calls (remove an old
			// object, ensure the new one), each bounded by --cloud-timeout.
			Timeout: 4 * c.CloudTimeout,
			Syncer: &controller.CloudSyncer{
				Client: mgr.GetClient(), Recorder: recorder, Options: parse, Providers: providers,
				Records: records, Resync: c.ResyncPeriod, RestartWorkloads: c.RestartWorkloads,
				Policy: store.Current, Cluster: cluster, Clouds: []cloud.Name{cl},
			},
		}).SetupWithManager(mgr); err != nil {
			return nil, fmt.Errorf("setting up the %s controller: %w", cl, err)
		}
	}
	if err := mgr.Add(sweeper); err != nil {
		return nil, fmt.Errorf("adding the sweep of cloud object records: %w", err)
	}
	store.OnLoad = onLeader(mgr.Elected(), func() { go resyncAll(ctx, mgr.GetClient(), resync) })

	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the liveness check: %w", err)
	}
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return nil, fmt.Errorf("adding the webhook readiness check: %w", err)
	}
	if err := mgr.AddReadyzCheck("cache", cacheSynced(mgr.GetCache())); err != nil {
		return nil, fmt.Errorf("adding the cache readiness check: %w", err)
	}
	return mgr, nil
}

// cacheSynced is ready once the informers the webhook reads have synced, so
// that conflict checks never run against an empty cache.
func cacheSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("informer caches have not synced yet")
		}
		return nil
	}
}

// cacheLookup answers the webhook's questions from the manager's cache.
type cacheLookup struct{ r client.Reader }

func (l cacheLookup) ServiceAccountAnnotations(ctx context.Context, namespace, name string) (map[string]string, bool, error) {
	sa := &corev1.ServiceAccount{}
	err := l.r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, sa)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading ServiceAccount %s/%s from the cache: %w", namespace, name, err)
	}
	return sa.Annotations, true, nil
}

func (l cacheLookup) Users(ctx context.Context, namespace, serviceAccount string) ([]workload.User, error) {
	return workload.Users(ctx, l.r, namespace, serviceAccount)
}

func (l cacheLookup) NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error) {
	return workload.NamespaceLabels(ctx, l.r, namespace)
}

func (l cacheLookup) Bindings(ctx context.Context, identityKey string) ([]string, error) {
	return workload.Bindings(ctx, l.r, identityKey)
}

func (l cacheLookup) Namespaces(ctx context.Context, prefix string) ([]string, error) {
	return workload.Namespaces(ctx, l.r, prefix)
}
