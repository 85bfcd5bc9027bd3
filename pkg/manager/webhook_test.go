package manager

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// namespaceStore is a Namespace informer's store with the lookup's
// change counter, as NewLookup sets it up.
func namespaceStore(t *testing.T) (toolscache.Indexer, *namespaceNames) {
	t.Helper()
	names := &namespaceNames{}
	store := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{namespaceChangesIndex: names.count})
	names.store = store
	return store, names
}

func namespace(name string, labels ...string) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for i := 0; i+1 < len(labels); i += 2 {
		ns.Labels[labels[i]] = labels[i+1]
	}
	return ns
}

// TestNamespaceNamesWithPrefix: the names that start with a prefix, and
// only those, whatever sorts around them.
func TestNamespaceNamesWithPrefix(t *testing.T) {
	store, names := namespaceStore(t)
	for _, n := range []string{"shop", "shop-api", "shopping", "shoe", "sho", "shop-api-v2", "tools", "a"} {
		if err := store.Add(namespace(n)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"shop", []string{"shop", "shop-api", "shop-api-v2", "shopping"}},
		{"shop-", []string{"shop-api", "shop-api-v2"}},
		{"shop-api-v2", []string{"shop-api-v2"}},
		{"sho", []string{"sho", "shoe", "shop", "shop-api", "shop-api-v2", "shopping"}},
		{"z", nil},
		{"", []string{"a", "sho", "shoe", "shop", "shop-api", "shop-api-v2", "shopping", "tools"}},
	}
	for _, tt := range tests {
		if got := names.withPrefix(tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("withPrefix(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
	// The shared slice cannot be appended into.
	got := names.withPrefix("shop-")
	_ = append(got, "x")
	if again := names.withPrefix("shop"); !slices.Equal(again, []string{"shop", "shop-api", "shop-api-v2", "shopping"}) {
		t.Errorf("after an append to a result: %v", again)
	}
}

// TestNamespaceNamesSeeEveryChange: a namespace created, relabelled or
// deleted is in the next answer, not in one some time later: the policy's
// ownership of ${namespace} identities must not lag the cache it reads.
func TestNamespaceNamesSeeEveryChange(t *testing.T) {
	store, names := namespaceStore(t)
	for i := range 200 {
		n := fmt.Sprintf("team-%03d", i)
		if err := store.Add(namespace(n)); err != nil {
			t.Fatal(err)
		}
		if got := names.withPrefix(n); !slices.Equal(got, []string{n}) {
			t.Fatalf("right after creating %s: %v", n, got)
		}
		if i%3 == 0 {
			if err := store.Update(namespace(n, "tier", "prod")); err != nil {
				t.Fatal(err)
			}
		}
		if i%2 == 0 {
			if err := store.Delete(namespace(n)); err != nil {
				t.Fatal(err)
			}
			if got := names.withPrefix(n); len(got) != 0 {
				t.Fatalf("right after deleting %s: %v", n, got)
			}
		}
	}
	if got := names.withPrefix("team-"); len(got) != 100 {
		t.Errorf("%d namespaces, want 100", len(got))
	}
	// A relist replaces the store's contents at once.
	if err := store.Replace([]any{namespace("fresh")}, "2"); err != nil {
		t.Fatal(err)
	}
	if got := names.withPrefix(""); !slices.Equal(got, []string{"fresh"}) {
		t.Errorf("after a relist: %v", got)
	}
}

// TestNamespaceNamesConcurrently: readers and a writer at once (run with
// -race); a reader that saw a write finish sees its namespace.
func TestNamespaceNamesConcurrently(t *testing.T) {
	store, names := namespaceStore(t)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					names.withPrefix("team-1")
				}
			}
		})
	}
	for i := range 300 {
		n := fmt.Sprintf("team-%d", i)
		if err := store.Add(namespace(n)); err != nil {
			t.Error(err)
			break
		}
		if !slices.Contains(names.withPrefix("team-"), n) {
			t.Errorf("%s missing right after it was added", n)
			break
		}
	}
	close(done)
	wg.Wait()
}

// TestLookupWaitsForTheCaches: before the caches have synced, the lookup
// answers with an error, not from an empty store: an empty store would
// show no conflict and no longer namespace.
func TestLookupWaitsForTheCaches(t *testing.T) {
	needControlPlane(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := NewCache(ctx)(restCfg, CacheOptions("default"))
	if err != nil {
		t.Fatal(err)
	}
	lookup, err := NewLookup(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
	defer stop()
	if _, err := lookup.Namespaces(short, "default"); err == nil {
		t.Error("Namespaces answered before the cache started")
	}
	if _, _, err := lookup.ServiceAccountAnnotations(short, "default", "default"); err == nil {
		t.Error("ServiceAccountAnnotations answered before the cache started")
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: leaseName(t),
		Annotations: map[string]string{"keyless.dev/aws-role": "orders"}}}
	if err := k8s.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), sa) })
	go func() { _ = c.Start(ctx) }()
	eventually(t, 10*time.Second, func() error {
		names, err := lookup.Namespaces(ctx, "default")
		if err != nil || !slices.Contains(names, "default") {
			return fmt.Errorf("namespaces %v, %v", names, err)
		}
		got, found, err := lookup.ServiceAccountAnnotations(ctx, "default", sa.Name)
		if err != nil || !found || got["keyless.dev/aws-role"] != "orders" {
			return fmt.Errorf("ServiceAccount %s: %v, %v, %v", sa.Name, got, found, err)
		}
		return nil
	})
}

// TestNamespaceLabelsOfANamespaceNotCachedYet: a namespace created a
// moment ago, whose event has not reached the cache, does not read as a
// namespace without labels (a rule that selects namespaces by label would
// not apply to it): the lookup waits for it, or refuses.
func TestNamespaceLabelsOfANamespaceNotCachedYet(t *testing.T) {
	prevWait := namespaceWait
	namespaceWait = 300 * time.Millisecond
	t.Cleanup(func() { namespaceWait = prevWait })
	inf := toolscache.NewSharedIndexInformer(&toolscache.ListWatch{}, &corev1.Namespace{}, 0, toolscache.Indexers{})
	l := &cacheLookup{namespaces: inf, names: &namespaceNames{store: inf.GetStore()}, waiting: make(chan struct{}, 2)}
	l.synced.Store(true)
	ctx := context.Background()

	if labels, err := l.NamespaceLabels(ctx, "fresh"); err == nil || !strings.Contains(err.Error(), "not in Keyless's cache yet") {
		t.Errorf("a namespace never cached: %v, %v; want an error", labels, err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = inf.GetStore().Add(namespace("fresh", "tier", "prod"))
	}()
	if labels, err := l.NamespaceLabels(ctx, "fresh"); err != nil || labels["tier"] != "prod" {
		t.Errorf("a namespace cached during the wait: %v, %v; want its labels", labels, err)
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.NamespaceLabels(short, "other"); !errors.Is(err, context.Canceled) {
		t.Errorf("a request that ends while waiting: %v", err)
	}
	// Reviews posted for namespaces that do not exist do not pile up: with
	// every place taken, the next one is refused at once.
	l.waiting <- struct{}{}
	l.waiting <- struct{}{}
	start := time.Now()
	if _, err := l.NamespaceLabels(ctx, "nowhere"); err == nil || time.Since(start) > namespaceWait/2 {
		t.Errorf("with every place taken: %v after %v, want an error at once", err, time.Since(start))
	}
	<-l.waiting
	if labels, err := l.NamespaceLabels(ctx, "fresh"); err != nil || labels["tier"] != "prod" {
		t.Errorf("a cached namespace with every place taken: %v, %v", labels, err)
	}
}
