package main

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/keyless-dev/keyless/pkg/admission"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/manager"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// cacheNamespaces is how many namespaces the objects of bigCache spread
// over, as in test/scale's memory mode.
const cacheNamespaces = 50

// bigCache is the manager's cache (manager.CacheOptions and NewCache, the
// identity index, the informers the webhook reads), filled from in-memory
// lists instead of an API server: n ServiceAccounts and n Deployments of
// test/scale's memory mode over 50 namespaces, every twentieth Deployment
// connected to an IAM role. The request bodies' namespace "orders" holds
// none of them, so the answers stay those of the empty cluster.
func bigCache(ctx context.Context, n int, parse annotations.Options, cl policy.Cluster) (admission.Lookup, error) {
	lists := map[reflect.Type]runtime.Object{
		reflect.TypeFor[*corev1.Namespace]():      namespaces(),
		reflect.TypeFor[*corev1.ServiceAccount](): serviceAccounts(n),
		reflect.TypeFor[*appsv1.Deployment]():     deployments(n),
	}
	opts := manager.CacheOptions("keyless-system")
	opts.Scheme, opts.Mapper, opts.HTTPClient = clientgoscheme.Scheme, mapper(), &http.Client{}
	opts.NewInformer = func(_ toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, ix toolscache.Indexers) toolscache.SharedIndexInformer {
		list := lists[reflect.TypeOf(obj)]
		delete(lists, reflect.TypeOf(obj))
		return toolscache.NewSharedIndexInformer(&staticList{list, obj}, obj, resync, ix)
	}
	c, err := manager.NewCache(ctx)(&rest.Config{Host: "https://127.0.0.1:1"}, opts)
	if err != nil {
		return nil, err
	}
	for _, o := range []runtime.Object{&corev1.ServiceAccount{}, &corev1.Namespace{}} {
		if _, err := c.GetInformer(ctx, o.(interface {
			runtime.Object
			metav1.Object
		}), cache.BlockUntilSynced(false)); err != nil {
			return nil, err
		}
	}
	if err := workload.AddIdentityIndex(ctx, c, parse, cl); err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the in-memory cache did not sync")
	}
	return manager.NewLookup(ctx, c)
}

// staticList lists its list once, and then an empty one of obj's kind
// (the informer keeps what it listed, the list is let go); it watches
// nothing.
type staticList struct {
	list runtime.Object
	obj  runtime.Object
}

func (l *staticList) List(metav1.ListOptions) (runtime.Object, error) {
	if list := l.list; list != nil {
		l.list = nil
		return list, nil
	}
	if _, ok := l.obj.(*corev1.ConfigMap); ok {
		return &corev1.ConfigMapList{}, nil
	}
	for _, k := range workload.Kinds {
		if reflect.TypeOf(k.New()) == reflect.TypeOf(l.obj) {
			return k.NewList(), nil
		}
	}
	return nil, fmt.Errorf("no list for %T", l.obj)
}

func (*staticList) Watch(metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil }

// IsWatchListSemanticsUnSupported makes the reflector list rather than
// stream: the watch sends nothing.
func (*staticList) IsWatchListSemanticsUnSupported() bool { return true }

func mapper() apimeta.RESTMapper {
	m := apimeta.NewDefaultRESTMapper(nil)
	m.Add(corev1.SchemeGroupVersion.WithKind("Namespace"), apimeta.RESTScopeRoot)
	m.Add(corev1.SchemeGroupVersion.WithKind("ServiceAccount"), apimeta.RESTScopeNamespace)
	m.Add(corev1.SchemeGroupVersion.WithKind("ConfigMap"), apimeta.RESTScopeNamespace)
	for _, k := range []string{"Deployment", "StatefulSet", "DaemonSet"} {
		m.Add(appsv1.SchemeGroupVersion.WithKind(k), apimeta.RESTScopeNamespace)
	}
	for _, k := range []string{"Job", "CronJob"} {
		m.Add(batchv1.SchemeGroupVersion.WithKind(k), apimeta.RESTScopeNamespace)
	}
	return m
}

func namespaces() *corev1.NamespaceList {
	// The request bodies' namespace, labelled as the empty cluster's.
	l := &corev1.NamespaceList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{
		Name: "orders", UID: uid(-1), ResourceVersion: "1", Labels: map[string]string{"kubernetes.io/metadata.name": "orders"}}}}}
	for i := range cacheNamespaces {
		l.Items = append(l.Items, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("mem-%d", i),
			UID: uid(i), ResourceVersion: "1", Labels: map[string]string{"team": "shop"}}})
	}
	return l
}

func serviceAccounts(n int) *corev1.ServiceAccountList {
	l := &corev1.ServiceAccountList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}
	for i := range n {
		l.Items = append(l.Items, corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Namespace: fmt.Sprintf("mem-%d", i%cacheNamespaces), Name: fmt.Sprintf("app-%05d", i), UID: uid(i),
			ResourceVersion: "1", Labels: map[string]string{"app.kubernetes.io/part-of": "shop"}}})
	}
	return l
}

func deployments(n int) *appsv1.DeploymentList {
	l := &appsv1.DeploymentList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}
	for i := range n {
		d := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
			Namespace: fmt.Sprintf("mem-%d", i%cacheNamespaces), Name: fmt.Sprintf("app-%05d", i), UID: uid(n + i),
			ResourceVersion: "1"}}
		d.Spec.Template.Spec.ServiceAccountName = d.Name
		if i%20 == 0 {
			d.Annotations = map[string]string{annotations.KeyAWSRole: fmt.Sprintf("mem-role-%d", i%20)}
		}
		l.Items = append(l.Items, d)
	}
	return l
}

func uid(i int) k8stypes.UID { return k8stypes.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i)) }
