package manager

import (
	"fmt"
	"runtime"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// BenchmarkCachedObject reports the live heap per cached object
// (B/object): what the transform keeps of an object as the API server
// sends it, in an informer store with the namespace index, as the
// manager's caches hold 10,000 of them. "typed Deployment" is what the
// caches kept of a workload before summaries: the typed object with only
// its metadata and pod template's ServiceAccount set.
//
//	go test ./pkg/manager -run '^$' -bench BenchmarkCachedObject -benchtime 3x
func BenchmarkCachedObject(b *testing.B) {
	tests := []struct {
		name      string
		object    func(i int) any
		transform func(any) (any, error)
	}{
		{"ServiceAccount", func(i int) any {
			return &corev1.ServiceAccount{ObjectMeta: apiMeta(i), Secrets: []corev1.ObjectReference{{Name: "token"}}}
		}, slimServiceAccount},
		{"Deployment summary", func(i int) any { return apiDeployment(i) }, slimWorkload},
		{"typed Deployment", func(i int) any { return apiDeployment(i) }, func(in any) (any, error) {
			d := in.(*appsv1.Deployment)
			out := &appsv1.Deployment{ObjectMeta: slimMeta(d)}
			out.Spec.Template.Spec.ServiceAccountName = d.Spec.Template.Spec.ServiceAccountName
			return out, nil
		}},
	}
	const n = 10000
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			for range b.N {
				before := heapInUse()
				store := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc,
					toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
				for i := range n {
					obj, err := tt.transform(tt.object(i))
					if err != nil {
						b.Fatal(err)
					}
					if err := store.Add(obj); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(heapInUse()-before)/n, "B/object")
				runtime.KeepAlive(store)
			}
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// apiMeta is metadata as the API server sends it: 50 namespaces, a
// label, a kubectl annotation, managedFields; every twentieth object
// connected to AWS.
func apiMeta(i int) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Namespace: fmt.Sprintf("mem-%d", i%50), Name: fmt.Sprintf("app-%05d", i),
		UID: types.UID(fmt.Sprintf("7c9e6679-7425-40de-944b-%012d", i)), ResourceVersion: fmt.Sprint(100000 + i), Generation: 1,
		CreationTimestamp: metav1.Now(), Labels: map[string]string{"app.kubernetes.io/part-of": "shop"},
		Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
	if i%20 == 0 {
		m.Annotations[annotations.KeyAWSRole] = fmt.Sprintf("mem-role-%d", i%20)
	}
	return m
}

func apiDeployment(i int) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: apiMeta(i)}
	d.Spec.Template.Spec.ServiceAccountName = d.Name
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "registry.example.com/shop/app:1"}}
	return d
}
