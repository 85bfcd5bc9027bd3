package manager

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/event"
	ctrlmanager "sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/controller"
	"github.com/keyless-dev/keyless/pkg/record"
)

// addControllers adds the controllers, which run on the elected leader:
// propagation from workloads to ServiceAccounts in one queue; each cloud's
// side in a queue of its own, so that one cloud's spent budget does not
// hold up the others; and the sweep of cloud object records. It returns
// the channels that queue a ServiceAccount on every cloud's controller.
func (p parts) addControllers(ctx context.Context) ([]chan event.GenericEvent, error) {
	c := p.config
	if err := record.AddIndex(ctx, p.mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	providers, err := Providers(ctx, c)
	if err != nil {
		return nil, err
	}
	p.log.Info("clouds", "configured", describeClouds(providers))
	sources := &controller.Sources{}
	if err := (&controller.ServiceAccountReconciler{
		Sources:  sources,
		Workers:  c.Workers,
		Client:   p.mgr.GetClient(),
		Recorder: p.recorder,
		Options:  p.parse,
	}).SetupWithManager(p.mgr); err != nil {
		return nil, fmt.Errorf("setting up the ServiceAccount controller: %w", err)
	}
	records := &record.Store{Client: p.mgr.GetClient(), Namespace: ownNamespace(c)}
	var resync []chan event.GenericEvent
	sweeper := &controller.Sweeper{Records: records, Every: c.ResyncPeriod, Queues: map[cloud.Name]chan<- event.GenericEvent{}}
	for _, cl := range cloud.Names() {
		ch := make(chan event.GenericEvent)
		resync = append(resync, ch)
		sweeper.Queues[cl] = ch
		if err := (&controller.CloudReconciler{
			Client: p.mgr.GetClient(), Cloud: cl, Workers: c.Workers, Resync: ch, Sources: sources,
			// One reconcile makes at most a few cloud calls (remove an old
			// object, ensure the new one), each bounded by --cloud-timeout.
			Timeout: 4 * c.CloudTimeout,
			Syncer: &controller.CloudSyncer{
				Client: p.mgr.GetClient(), Recorder: p.recorder, Options: p.parse, Providers: providers,
				Records: records, Resync: c.ResyncPeriod, RestartWorkloads: c.RestartWorkloads,
				Policy: p.policy.Current, Cluster: p.cluster, Cloud: cl,
			},
		}).SetupWithManager(p.mgr); err != nil {
			return nil, fmt.Errorf("setting up the %s controller: %w", cl, err)
		}
	}
	if err := p.mgr.Add(sweeper); err != nil {
		return nil, fmt.Errorf("adding the sweep of cloud object records: %w", err)
	}
	// A leader-election runnable: it starts with the controllers, on the
	// replica elected, whenever that happens.
	if err := p.mgr.Add(ctrlmanager.RunnableFunc(lowGCWhileReplaying(collector, sources))); err != nil {
		return nil, fmt.Errorf("adding the garbage collector's start-up setting: %w", err)
	}
	return resync, nil
}
