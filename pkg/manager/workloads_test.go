package manager

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// informersOnly is a cache whose workload informers are plain client-go
// informers, filled by hand rather than by a watch.
type informersOnly struct {
	cache.Cache
	informers map[reflect.Type]toolscache.SharedIndexInformer
}

func (c informersOnly) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	return c.informers[reflect.TypeOf(obj)], nil
}

// summaryCache holds the objects, transformed as the manager's cache
// transforms them.
func summaryCache(t *testing.T, objs ...client.Object) workloadCache {
	t.Helper()
	c := informersOnly{informers: map[reflect.Type]toolscache.SharedIndexInformer{}}
	for _, k := range workload.Kinds {
		inf := toolscache.NewSharedIndexInformer(&toolscache.ListWatch{}, k.New(), 0, toolscache.Indexers{})
		if err := inf.AddIndexers(toolscache.Indexers{usersIndex: indexUsers}); err != nil {
			t.Fatal(err)
		}
		c.informers[reflect.TypeOf(k.New())] = inf
	}
	for _, o := range objs {
		s, err := slimWorkload(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.informers[reflect.TypeOf(o)].GetIndexer().Add(s); err != nil {
			t.Fatal(err)
		}
	}
	wc := workloadCache{Cache: c, informers: map[string]toolscache.SharedIndexInformer{}}
	for _, k := range workload.Kinds {
		wc.informers[k.Name] = c.informers[reflect.TypeOf(k.New())]
	}
	return wc
}

func connected(o client.Object, sa string) client.Object {
	o.SetAnnotations(map[string]string{annotations.KeyAWSRole: "orders", "example.com/other": "x"})
	workload.PodTemplate(o).Spec.ServiceAccountName = sa
	return o
}

func named(o client.Object, name string) client.Object {
	o.SetNamespace("shop")
	o.SetName(name)
	o.SetUID(k8stypes.UID("uid-" + name))
	return o
}

// TestWorkloadCacheUsers: the connected workloads of a ServiceAccount, of
// every kind and in its namespace only, come back typed, as workload.Users
// reads them from a typed cache.
func TestWorkloadCacheUsers(t *testing.T) {
	c := summaryCache(t,
		connected(named(&appsv1.Deployment{}, "web"), "orders"),
		connected(named(&batchv1.CronJob{}, "nightly"), "orders"),
		connected(named(&appsv1.StatefulSet{}, "db"), "billing"),
		named(&appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "orders"}}}}, "agent"),
	)
	other := connected(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "web", UID: "x"}}, "orders")
	if s, _ := slimWorkload(other); s != nil {
		inf, _ := c.GetInformer(context.Background(), &appsv1.Deployment{})
		if err := inf.(toolscache.SharedIndexInformer).GetIndexer().Add(s); err != nil {
			t.Fatal(err)
		}
	}
	// Through the client, as the controllers read them, and from the
	// index, as the webhook does.
	for name, users := range map[string]func() ([]workload.User, error){
		"workload.Users": func() ([]workload.User, error) { return workload.Users(context.Background(), c, "shop", "orders") },
		"Lookup.Users": func() ([]workload.User, error) {
			return (&cacheLookup{r: c}).Users(context.Background(), "shop", "orders")
		},
	} {
		t.Run(name, func(t *testing.T) {
			users, err := users()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range users {
				got = append(got, u.String()+" "+u.UID)
				if u.Annotations[annotations.KeyAWSRole] != "orders" || len(u.Annotations) != 1 {
					t.Errorf("%s: annotations %v, want only the connection", u, u.Annotations)
				}
			}
			want := []string{"Deployment/web uid-web", "CronJob/nightly uid-nightly"}
			if !slices.Equal(got, want) {
				t.Errorf("users = %v, want %v", got, want)
			}
		})
	}
}

func TestWorkloadCacheGet(t *testing.T) {
	c := summaryCache(t, connected(named(&batchv1.CronJob{}, "nightly"), "orders"))
	ctx := context.Background()
	got := &batchv1.CronJob{Spec: batchv1.CronJobSpec{Schedule: "left over"}}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "nightly"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "nightly" || got.UID != "uid-nightly" || workload.ServiceAccountName(got) != "orders" ||
		got.Spec.Schedule != "" || got.Annotations[annotations.KeyAWSRole] != "orders" {
		t.Errorf("got %+v", got)
	}
	err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "missing"}, &batchv1.CronJob{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("missing CronJob: %v, want NotFound", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "nightly"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Deployment of the CronJob's name: %v, want NotFound", err)
	}
}

// TestWorkloadCacheRefusesOtherLists: a list the summaries cannot answer
// is an error, never a silently empty or partial answer.
func TestWorkloadCacheRefusesOtherLists(t *testing.T) {
	c := summaryCache(t, connected(named(&appsv1.Deployment{}, "web"), "orders"))
	tests := []struct {
		name string
		opts []client.ListOption
	}{
		{"everything", nil},
		{"a namespace", []client.ListOption{client.InNamespace("shop")}},
		{"the field in every namespace", []client.ListOption{client.MatchingFields{workload.IndexServiceAccount: "orders"}}},
		{"a label", []client.ListOption{client.InNamespace("shop"), client.MatchingFields{workload.IndexServiceAccount: "orders"},
			client.MatchingLabels{"app": "web"}}},
		{"another field", []client.ListOption{client.InNamespace("shop"), client.MatchingFields{"metadata.name": "web"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.List(context.Background(), &appsv1.DeploymentList{}, tt.opts...); err == nil {
				t.Error("listed; want an error")
			}
		})
	}
}

// TestManagerCachesWorkloadSummaries runs the manager: its cache holds
// summaries, and its client reads typed workloads and their users.
func TestManagerCachesWorkloadSummaries(t *testing.T) {
	mgr, _ := startManager(t, nil)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: leaseName(t) + "-", Labels: map[string]string{"tier": "prod"}}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, ns) })
	d := connected(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web:1"}}}},
		}}, "orders")
	if err := k8s.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		users, err := workload.Users(ctx, mgr.GetClient(), ns.Name, "orders")
		if err != nil {
			return err
		}
		if len(users) != 1 || users[0].String() != "Deployment/web" || users[0].UID != string(d.GetUID()) {
			return fmt.Errorf("users %v", users)
		}
		return nil
	})
	got := &appsv1.Deployment{}
	if err := mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(d), got); err != nil {
		t.Fatal(err)
	}
	if workload.ServiceAccountName(got) != "orders" || got.Spec.Template.Spec.Containers != nil {
		t.Errorf("cached Deployment %+v, want its metadata and ServiceAccount only", got)
	}
	inf, err := mgr.GetCache().GetInformer(ctx, &appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	item, ok, _ := inf.(toolscache.SharedIndexInformer).GetIndexer().GetByKey(ns.Name + "/web")
	if _, summary := item.(*workload.Summary); !ok || !summary {
		t.Errorf("the informer holds a %T, want a summary", item)
	}
	// The policy's namespace labels, read from the cached Namespace.
	lookup, err := NewLookup(ctx, mgr.GetCache())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		labels, err := lookup.NamespaceLabels(ctx, ns.Name)
		if err != nil || labels["tier"] != "prod" {
			return fmt.Errorf("labels of %s: %v, %v", ns.Name, labels, err)
		}
		return nil
	})
	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	if labels, err := lookup.NamespaceLabels(short, "no-such-namespace"); err == nil {
		t.Errorf("labels of a namespace not in the cache: %v; want an error", labels)
	}
	// The conflict check's ServiceAccount annotations, likewise. Not
	// "orders": the manager's controller creates that one for the
	// Deployment, and may do so first.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "reports",
		Annotations: map[string]string{annotations.KeyAWSRole: "orders"}}}
	if err := k8s.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		got, found, err := lookup.ServiceAccountAnnotations(ctx, ns.Name, "reports")
		if err != nil || !found || got[annotations.KeyAWSRole] != "orders" {
			return fmt.Errorf("annotations of ServiceAccount reports: %v, %v, %v", got, found, err)
		}
		return nil
	})
	if got, found, err := lookup.ServiceAccountAnnotations(ctx, ns.Name, "missing"); err != nil || found || got != nil {
		t.Errorf("annotations of a missing ServiceAccount: %v, %v, %v", got, found, err)
	}
	// The webhook's namespace names come from the informer's keys.
	names, err := lookup.Namespaces(ctx, ns.Name[:len(ns.Name)-1])
	if err != nil || !slices.Contains(names, ns.Name) || slices.Contains(names, "default") {
		t.Errorf("namespaces with the prefix of %s: %v, %v", ns.Name, names, err)
	}
}

// syncing is a cache that has synced once synced is closed.
type syncing struct {
	cache.Cache
	synced chan struct{}
}

func (s syncing) Start(ctx context.Context) error { <-ctx.Done(); return nil }

func (s syncing) WaitForCacheSync(ctx context.Context) bool {
	select {
	case <-s.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

func gcPercent() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestGarbageCollectorWorksHarderUntilSynced: GOGC is syncGCPercent while
// the caches make their initial lists, then what it was; a lower GOGC
// stays.
func TestGarbageCollectorWorksHarderUntilSynced(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	for _, before := range []int{100, 10} {
		t.Run(fmt.Sprint(before), func(t *testing.T) {
			debug.SetGCPercent(before)
			s := syncing{synced: make(chan struct{})}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = workloadCache{Cache: s}.Start(ctx) }()
			during := int64(min(before, syncGCPercent))
			eventually(t, time.Second, func() error {
				if got := gcPercent(); got != during {
					return fmt.Errorf("GOGC %d while syncing, want %d", got, during)
				}
				return nil
			})
			close(s.synced)
			eventually(t, time.Second, func() error {
				if got := gcPercent(); got != int64(before) {
					return fmt.Errorf("GOGC %d once synced, want %d", got, before)
				}
				return nil
			})
		})
	}
}
