package manager

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/workload"
)

// usersIndex indexes the connected workload summaries by
// "namespace/serviceAccount".
const usersIndex = "keyless.dev/users"

// workloadCache is the manager's cache, whose workload informers hold
// workload.Summary values (see slimWorkload) rather than typed objects. It
// answers a Get of a typed workload, and the List of the connected
// workloads of one ServiceAccount (workload.Users), with typed objects
// made from the summaries; everything else goes to the cache it wraps.
type workloadCache struct {
	cache.Cache
	// informers are the workload informers by kind; an admission reads
	// them directly once they have synced.
	informers map[string]toolscache.SharedIndexInformer
}

// NewCache builds the manager's cache from CacheOptions and registers the
// users index on every workload informer (which starts them on every
// replica: the webhook reads them too).
func NewCache(ctx context.Context) cache.NewCacheFunc {
	return func(cfg *rest.Config, o cache.Options) (cache.Cache, error) {
		c, err := cache.New(cfg, o)
		if err != nil {
			return nil, err
		}
		wc := workloadCache{Cache: c, informers: map[string]toolscache.SharedIndexInformer{}}
		for _, k := range workload.Kinds {
			inf, err := c.GetInformer(ctx, k.New(), cache.BlockUntilSynced(false))
			if err != nil {
				return nil, fmt.Errorf("watching %s objects: %w", k.Name, err)
			}
			if err := inf.AddIndexers(toolscache.Indexers{usersIndex: indexUsers}); err != nil {
				return nil, fmt.Errorf("indexing %s objects by ServiceAccount: %w", k.Name, err)
			}
			sii, ok := inf.(toolscache.SharedIndexInformer)
			if !ok {
				return nil, fmt.Errorf("the informer of %s objects is a %T, not a SharedIndexInformer", k.Name, inf)
			}
			wc.informers[k.Name] = sii
		}
		return wc, nil
	}
}

// Start starts the informers, with the garbage collector working harder
// (see lowGC) until they have synced.
func (c workloadCache) Start(ctx context.Context) error {
	collector.enter()
	go func() {
		defer collector.exit()
		c.WaitForCacheSync(ctx)
	}()
	return c.Cache.Start(ctx)
}

func indexUsers(obj any) ([]string, error) {
	s, ok := obj.(*workload.Summary)
	if !ok || !workload.Connected(s) {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.ServiceAccount}, nil
}

// indexer returns the store of the informer of a kind, once it has synced
// (as the cache it wraps waits for a type's informer on a read).
func (c workloadCache) indexer(ctx context.Context, kind string) (toolscache.Indexer, error) {
	inf := c.informers[kind]
	if inf == nil {
		return nil, fmt.Errorf("no informer for %s objects", kind)
	}
	if !inf.HasSynced() {
		if _, err := c.GetInformer(ctx, workload.New(kind)); err != nil {
			return nil, err
		}
	}
	return inf.GetIndexer(), nil
}

// Get reads a workload from its summary.
func (c workloadCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	kind := workload.KindOf(obj)
	if kind == "" {
		return c.Cache.Get(ctx, key, obj, opts...)
	}
	ix, err := c.indexer(ctx, kind)
	if err != nil {
		return err
	}
	item, ok, err := ix.GetByKey(key.Namespace + "/" + key.Name)
	if err != nil {
		return err
	}
	if !ok {
		return apierrors.NewNotFound(resourceOf(kind), key.Name)
	}
	return into(item, obj)
}

// List lists the workloads of one kind whose pods run as one
// ServiceAccount: the options must be a namespace and the field
// workload.IndexServiceAccount, as workload.Users asks.
func (c workloadCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	kind := kindOfList(list)
	if kind == "" {
		return c.Cache.List(ctx, list, opts...)
	}
	o := (&client.ListOptions{}).ApplyOptions(opts)
	sa, exact := "", false
	if o.FieldSelector != nil && len(o.FieldSelector.Requirements()) == 1 {
		sa, exact = o.FieldSelector.RequiresExactMatch(workload.IndexServiceAccount)
	}
	if !exact || o.Namespace == "" || o.LabelSelector != nil || o.Limit != 0 {
		return fmt.Errorf("the workload cache lists only by namespace and %s, not %v", workload.IndexServiceAccount, o)
	}
	ix, err := c.indexer(ctx, kind)
	if err != nil {
		return err
	}
	items, err := ix.ByIndex(usersIndex, o.Namespace+"/"+sa)
	if err != nil {
		return err
	}
	objs := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		obj := workload.New(kind)
		if err := into(item, obj); err != nil {
			return err
		}
		objs = append(objs, obj)
	}
	return apimeta.SetList(list, objs)
}

// listKinds names the workload kind of each typed list.
var listKinds = func() map[reflect.Type]string {
	m := map[reflect.Type]string{}
	for _, k := range workload.Kinds {
		m[reflect.TypeOf(k.NewList())] = k.Name
	}
	return m
}()

// users are the connected workloads whose pods run as namespace/sa, in
// the order of workload.Kinds, as workload.Users lists them.
func (c workloadCache) users(ctx context.Context, namespace, sa string) ([]workload.User, error) {
	var out []workload.User
	key := namespace + "/" + sa
	for _, k := range workload.Kinds {
		ix, err := c.indexer(ctx, k.Name)
		if err != nil {
			return nil, err
		}
		items, err := ix.ByIndex(usersIndex, key)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			s, ok := item.(*workload.Summary)
			if !ok {
				return nil, fmt.Errorf("the cache holds a %T where a %s summary was expected", item, k.Name)
			}
			out = append(out, workload.User{Kind: s.Kind, Name: s.Name, UID: string(s.UID), Annotations: maps.Clone(s.Annotations)})
		}
	}
	return out, nil
}

// kindOfList names the workload kind of a typed list, or "".
func kindOfList(list client.ObjectList) string { return listKinds[reflect.TypeOf(list)] }

func into(item any, obj client.Object) error {
	s, ok := item.(*workload.Summary)
	if !ok || !s.Into(obj) {
		return fmt.Errorf("the cache holds a %T where a %s summary was expected", item, workload.KindOf(obj))
	}
	return nil
}

// resourceOf is the API resource of a workload kind.
func resourceOf(kind string) schema.GroupResource {
	group := "apps"
	if kind == "Job" || kind == "CronJob" {
		group = "batch"
	}
	return schema.GroupResource{Group: group, Resource: strings.ToLower(kind) + "s"}
}
