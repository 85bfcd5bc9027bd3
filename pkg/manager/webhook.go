package manager

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/admission"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/mutation"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// addWebhook registers the admission handler, which every replica serves
// from its caches through lookup.
func (p parts) addWebhook(lookup admission.Lookup) {
	c := p.config
	p.mgr.GetWebhookServer().Register(admission.Path, &admission.Handler{
		Policy: p.policy.Current,
		Audit:  auditEvents(p.recorder),
		Options: admission.Options{
			Parse:   p.parse,
			Cluster: p.cluster,
			Workload: mutation.WorkloadOptions{
				DenyDefaultServiceAccount: c.DefaultServiceAccount == "deny",
				GKENodeSelector:           c.GKENodeSelector,
			},
			ServiceAccount: mutation.ServiceAccountOptions{AzureTenantID: c.AzureTenantID, Finalizer: annotations.Finalizer, RecordPending: true},
		},
		Lookup: lookup,
		Log:    p.log.WithName("admission"),
	})
}

// NewLookup answers the webhook's questions from c, the manager's cache.
// It reads the ServiceAccount and Namespace informers' stores directly, as
// every admission asks, and keeps the namespace names sorted for the
// policy's prefix lookups, counting the Namespace store's changes through
// an index of its own.
func NewLookup(ctx context.Context, c cache.Cache) (admission.Lookup, error) {
	l := &cacheLookup{r: c, names: &namespaceNames{}, waiting: make(chan struct{}, namespaceWaiters)}
	var err error
	if l.serviceAccounts, err = sharedInformer(ctx, c, &corev1.ServiceAccount{}); err != nil {
		return nil, err
	}
	if l.namespaces, err = sharedInformer(ctx, c, &corev1.Namespace{}); err != nil {
		return nil, err
	}
	l.names.store = l.namespaces.GetStore()
	index := fmt.Sprintf("%s-%d", namespaceChangesIndex, lookups.Add(1))
	if err := l.namespaces.AddIndexers(toolscache.Indexers{index: l.names.count}); err != nil {
		return nil, fmt.Errorf("indexing Namespaces: %w", err)
	}
	return l, nil
}

func sharedInformer(ctx context.Context, c cache.Cache, obj client.Object) (toolscache.SharedIndexInformer, error) {
	inf, err := c.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("watching %T: %w", obj, err)
	}
	sii, ok := inf.(toolscache.SharedIndexInformer)
	if !ok {
		return nil, fmt.Errorf("the cache's informer for %T is a %T, not a shared index informer", obj, inf)
	}
	return sii, nil
}

// cacheLookup answers the webhook's questions from the manager's cache.
type cacheLookup struct {
	r                           cache.Cache
	serviceAccounts, namespaces toolscache.SharedIndexInformer
	names                       *namespaceNames
	// synced is set once both informers have synced: until then every
	// read waits for them, as a read through the cache does.
	synced atomic.Bool
	// waiting holds a token per request waiting for its namespace.
	waiting chan struct{}
}

func (l *cacheLookup) waitForSync(ctx context.Context) error {
	if l.synced.Load() {
		return nil
	}
	for _, o := range []client.Object{&corev1.ServiceAccount{}, &corev1.Namespace{}} {
		if _, err := l.r.GetInformer(ctx, o); err != nil {
			return fmt.Errorf("waiting for the cache of %T: %w", o, err)
		}
	}
	if !l.serviceAccounts.HasSynced() || !l.namespaces.HasSynced() {
		return fmt.Errorf("the caches of ServiceAccounts and Namespaces have not synced")
	}
	l.synced.Store(true)
	return nil
}

// ServiceAccountAnnotations reads the cached ServiceAccount without
// copying it: the webhook only reads its annotations.
func (l *cacheLookup) ServiceAccountAnnotations(ctx context.Context, namespace, name string) (map[string]string, bool, error) {
	if err := l.waitForSync(ctx); err != nil {
		return nil, false, err
	}
	item, ok, err := l.serviceAccounts.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false, err
	}
	sa, isSA := item.(*corev1.ServiceAccount)
	if !isSA {
		return nil, false, fmt.Errorf("the cache holds a %T where ServiceAccount %s/%s was expected", item, namespace, name)
	}
	return sa.Annotations, true, nil
}

// Users reads the workload summaries' index directly, as every admission
// asks: a List through the cache would make typed objects of them.
func (l *cacheLookup) Users(ctx context.Context, namespace, serviceAccount string) ([]workload.User, error) {
	if wc, ok := l.r.(workloadCache); ok {
		return wc.users(ctx, namespace, serviceAccount)
	}
	return workload.Users(ctx, l.r, namespace, serviceAccount)
}

// NamespaceLabels reads the cached Namespace without copying it: the
// policy only reads its labels.
//
// The API server admits objects only into namespaces that exist, so a
// namespace missing from the cache was created a moment ago and its event
// has not arrived yet. Its labels are not "none": a rule that selects
// namespaces by label would not apply. The lookup waits for it
// (awaitNamespace), or refuses with an error; it never answers nil.
func (l *cacheLookup) NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error) {
	if err := l.waitForSync(ctx); err != nil {
		return nil, err
	}
	if labels, ok, err := l.cachedLabels(namespace); ok || err != nil {
		return labels, err
	}
	return l.awaitNamespace(ctx, namespace)
}

func (l *cacheLookup) cachedLabels(namespace string) (map[string]string, bool, error) {
	item, ok, err := l.namespaces.GetIndexer().GetByKey(namespace)
	if err != nil || !ok {
		return nil, false, err
	}
	ns, isNamespace := item.(*corev1.Namespace)
	if !isNamespace {
		return nil, false, fmt.Errorf("the cache holds a %T where Namespace %s was expected", item, namespace)
	}
	return ns.Labels, true, nil
}

// awaitNamespace waits up to namespaceWait for the namespace to reach the
// cache. At most cap(l.waiting) requests wait at once: anyone who can reach
// the webhook's port can post reviews for namespaces that do not exist,
// and those must not pile up.
func (l *cacheLookup) awaitNamespace(ctx context.Context, namespace string) (map[string]string, error) {
	notYet := fmt.Errorf("namespace %s is not in Keyless's cache yet (created a moment ago?); try again", namespace)
	select {
	case l.waiting <- struct{}{}:
		defer func() { <-l.waiting }()
	default:
		return nil, notYet
	}
	deadline := time.NewTimer(namespaceWait)
	defer deadline.Stop()
	poll := time.NewTicker(namespacePoll)
	defer poll.Stop()
	for {
		select {
		case <-deadline.C:
			return nil, notYet
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for namespace %s in the cache: %w", namespace, ctx.Err())
		case <-poll.C:
		}
		if labels, ok, err := l.cachedLabels(namespace); ok || err != nil {
			return labels, err
		}
	}
}

// How long NamespaceLabels waits for a namespace to reach the cache, how
// often it looks, and how many requests may wait at once; the webhook's
// timeout is 5 s.
var (
	namespaceWait = 3 * time.Second
	namespacePoll = 10 * time.Millisecond
)

const namespaceWaiters = 32

func (l *cacheLookup) Bindings(ctx context.Context, identityKey string) ([]string, error) {
	return workload.Bindings(ctx, l.r, identityKey)
}

// Namespaces answers from the sorted names: a list would copy every
// Namespace, and even the store's keys are one allocation per namespace
// on every admission.
func (l *cacheLookup) Namespaces(ctx context.Context, prefix string) ([]string, error) {
	if err := l.waitForSync(ctx); err != nil {
		return nil, err
	}
	return l.names.withPrefix(prefix), nil
}

// namespaceChangesIndex names, with a number per lookup, an index of the
// Namespace informer with no values: its function, which the store calls
// under its lock on every add, update and delete, counts the changes.
const namespaceChangesIndex = "keyless.dev/namespace-changes"

// lookups numbers the lookups, for their index names.
var lookups atomic.Uint64

// namespaceNames keeps the cached namespaces' names sorted, rebuilt from
// the store's keys on the first read after a change.
type namespaceNames struct {
	store   toolscache.Store
	changes atomic.Uint64
	mu      sync.Mutex
	sorted  atomic.Pointer[sortedNames]
}

// sortedNames are the store's keys, sorted, once changes had reached at.
type sortedNames struct {
	at    uint64
	names []string
}

func (n *namespaceNames) count(any) ([]string, error) {
	n.changes.Add(1)
	return nil, nil
}

// withPrefix returns the names that start with prefix. The slice is shared:
// read it, never change it.
func (n *namespaceNames) withPrefix(prefix string) []string {
	s := n.sorted.Load()
	if s == nil || s.at != n.changes.Load() {
		s = n.rebuild()
	}
	return workload.WithPrefix(s.names, prefix)
}

// rebuild sorts the store's keys. A change made after changes is read and
// before the keys are may be in them already; the next read then rebuilds
// again, which is only wasted work.
func (n *namespaceNames) rebuild() *sortedNames {
	n.mu.Lock()
	defer n.mu.Unlock()
	at := n.changes.Load()
	if s := n.sorted.Load(); s != nil && s.at == at {
		return s
	}
	names := n.store.ListKeys()
	slices.Sort(names)
	s := &sortedNames{at: at, names: names}
	n.sorted.Store(s)
	return s
}
