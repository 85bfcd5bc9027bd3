package devenv

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

func TestRolledOut(t *testing.T) {
	tests := []struct {
		name     string
		replicas *int32
		status   appsv1.DeploymentStatus
		want     bool
	}{
		{"done", ptr.To(int32(2)), appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}, true},
		{"no replicas given: one", nil, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}, true},
		{"no replicas given, none running", nil, appsv1.DeploymentStatus{ObservedGeneration: 3}, false},
		{"scaled to zero", ptr.To(int32(0)), appsv1.DeploymentStatus{ObservedGeneration: 3}, true},
		{"the latest spec not seen yet", ptr.To(int32(2)), appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}, false},
		{"an old pod left", ptr.To(int32(2)), appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 2}, false},
		{"not all updated", ptr.To(int32(2)), appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 2}, false},
		{"not all available", ptr.To(int32(2)), appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 3}, Spec: appsv1.DeploymentSpec{Replicas: tt.replicas}, Status: tt.status}
			if got := RolledOut(d); got != tt.want {
				t.Errorf("RolledOut = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPodState(t *testing.T) {
	now := metav1.Now()
	unschedulable := corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/2 nodes are available"}}}
	tests := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"running", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}, "Running"},
		{"pending, why", corev1.Pod{Status: unschedulable}, "Pending (Unschedulable: 0/2 nodes are available)"},
		{"pending, scheduled", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}}, "Pending"},
		{"terminating wins", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: unschedulable}, "Terminating"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podState(&tt.pod); got != tt.want {
				t.Errorf("podState = %q, want %q", got, tt.want)
			}
		})
	}
}

// replicaSet is a ReplicaSet of owner created at minute with revision rev.
func replicaSet(name string, owner types.UID, minute int, rev string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "orders", Name: name, OwnerReferences: []metav1.OwnerReference{{UID: owner, Kind: "Deployment", Name: "x"}},
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC)),
			Annotations:       map[string]string{"deployment.kubernetes.io/revision": rev}},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas},
	}
}

func TestReplicaSetsAndRestarts(t *testing.T) {
	restarted := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "orders", Name: "orders-api", UID: "u1"}}
	restarted.Spec.Template.Annotations = map[string]string{annotations.KeyRestartedAt: "2026-01-01T00:05:00Z"}
	quiet := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "orders", Name: "billing", UID: "u2"}}
	other := replicaSet("elsewhere", "u1", 0, "1", 1)
	other.Namespace = "shop"
	c := fake.NewClientBuilder().WithObjects(restarted, quiet,
		replicaSet("second", "u1", 5, "2", 1),
		replicaSet("first", "u1", 1, "1", 0),
		replicaSet("same-minute-newer", "u1", 5, "10", 2), // revision 10 after 2: compared as numbers
		replicaSet("billing-1", "u2", 0, "1", 1),
		other,
	).Build()
	ctx := context.Background()
	sets, err := ReplicaSets(ctx, c, restarted)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rs := range sets {
		names = append(names, rs.Name)
	}
	if want := []string{"first", "second", "same-minute-newer"}; !slices.Equal(names, want) {
		t.Errorf("ReplicaSets = %q, want %q (its own, in its namespace, oldest first)", names, want)
	}

	objs := []*unstructured.Unstructured{deploymentRef("orders-api"), deploymentRef("billing"), {Object: map[string]any{"kind": "ServiceAccount"}}}
	lines, err := DescribeRestarts(ctx, c, objs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Deployment orders/orders-api: restarted at 2026-01-01T00:05:00Z, once its connections were ready, so that new pods get " +
		"their credentials; ReplicaSets first (0 pods) -> second (1 pod) -> same-minute-newer (2 pods)"}
	if !slices.Equal(lines, want) {
		t.Errorf("DescribeRestarts =\n%q\nwant\n%q", lines, want)
	}
}

func deploymentRef(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	u.SetNamespace("orders")
	u.SetName(name)
	return u
}

func TestDescribePods(t *testing.T) {
	pod := func(ns, name string, edit func(*corev1.Pod)) client.Object {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{ServiceAccountName: "default"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		edit(p)
		return p
	}
	c := fake.NewClientBuilder().WithObjects(
		pod("orders", "b", func(p *corev1.Pod) {
			p.Spec.NodeName, p.Spec.ServiceAccountName = "wi-node-0", "orders-api"
			p.Labels = map[string]string{annotations.AzureUseLabel: "true"}
			p.Spec.NodeSelector = map[string]string{annotations.GKEMetadataServerNodeSelector: "true"}
		}),
		pod("orders", "a", func(p *corev1.Pod) { p.Spec.NodeName = "plain-node-0" }),
		pod("billing", "c", func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodPending}
		}),
		pod("elsewhere", "d", func(*corev1.Pod) {}),
	).Build()
	got, err := DescribePods(context.Background(), c, []string{"orders", "billing"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Pod orders/a: Running on node plain-node-0, ServiceAccount default",
		"Pod orders/b: Running on node wi-node-0, ServiceAccount orders-api, label azure.workload.identity/use=true, " +
			"nodeSelector iam.gke.io/gke-metadata-server-enabled=true",
		"Pod billing/c: Pending, ServiceAccount default",
	}
	if !slices.Equal(got, want) {
		t.Errorf("DescribePods =\n%q\nwant\n%q", got, want)
	}
}
