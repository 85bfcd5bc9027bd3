package workload

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Summary is what a cache keeps of a workload in place of the typed
// object: its metadata and the ServiceAccount its pods run as. An empty
// Deployment struct takes 1.2 KB before any field is set; a Summary takes
// under 300 bytes, which matters at tens of thousands of workloads on
// every replica.
type Summary struct {
	metav1.ObjectMeta
	// Kind is the workload's kind: "Deployment", "CronJob"...
	Kind string
	// ServiceAccount is ServiceAccountName of the typed object.
	ServiceAccount string
}

var _ client.Object = &Summary{}

// Summarize returns the Summary of a workload with the metadata meta (the
// caller chooses what it keeps), or nil for other objects.
func Summarize(obj client.Object, meta metav1.ObjectMeta) *Summary {
	kind := KindOf(obj)
	if kind == "" {
		return nil
	}
	return &Summary{ObjectMeta: meta, Kind: kind, ServiceAccount: ServiceAccountName(obj)}
}

// Into overwrites obj, a typed workload of the summary's kind, with what
// the summary keeps; false when obj is of another kind.
func (s *Summary) Into(obj client.Object) bool {
	fresh := New(s.Kind)
	if fresh == nil || KindOf(obj) != s.Kind {
		return false
	}
	s.ObjectMeta.DeepCopyInto(objectMeta(fresh))
	PodTemplate(fresh).Spec.ServiceAccountName = s.ServiceAccount
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(fresh).Elem())
	return true
}

// GetObjectKind is empty, as for the typed objects an informer holds.
func (s *Summary) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject copies the summary.
func (s *Summary) DeepCopyObject() runtime.Object {
	out := &Summary{Kind: s.Kind, ServiceAccount: s.ServiceAccount}
	s.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	return out
}
