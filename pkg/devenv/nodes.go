package devenv

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// kwokNodeAnnotation marks the Nodes kwok plays the kubelet of.
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// Node is a simulated node.
type Node struct {
	Name string
	// WorkloadIdentity labels the node iam.gke.io/gke-metadata-server-enabled=true,
	// as GKE does on node pools with Workload Identity.
	WorkloadIdentity bool
}

// DefaultNodes are a mixed cluster: one node pool with GKE Workload
// Identity and one without, so that pods connected to GCP land only on the
// first.
var DefaultNodes = []Node{{Name: "wi-node-0", WorkloadIdentity: true}, {Name: "plain-node-0"}}

// nodeResources is each node's capacity: a common machine, with the
// kubelet's default pod limit.
var nodeResources = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("8"),
	corev1.ResourceMemory: resource.MustParse("32Gi"),
	corev1.ResourcePods:   resource.MustParse("110"),
}

// createNodes creates the Node objects and sets their capacity through the
// status subresource, as a kubelet would; kwok then marks them Ready and
// keeps their heartbeat.
func createNodes(ctx context.Context, c client.Client, nodes []Node) error {
	for _, n := range nodes {
		labels := map[string]string{
			corev1.LabelHostname: n.Name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64", "type": "kwok",
		}
		if n.WorkloadIdentity {
			labels[annotations.GKEMetadataServerNodeSelector] = "true"
		}
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels,
			Annotations: map[string]string{kwokNodeAnnotation: "fake"}}}
		if err := c.Create(ctx, node); err != nil {
			return fmt.Errorf("creating node %s: %w", n.Name, err)
		}
		before := node.DeepCopy()
		node.Status.Capacity, node.Status.Allocatable = nodeResources, nodeResources
		if err := c.Status().Patch(ctx, node, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("setting the capacity of node %s: %w", n.Name, err)
		}
	}
	return nil
}

// waitNodesReady waits until kwok has marked every node Ready.
func waitNodesReady(ctx context.Context, c client.Client, nodes []Node, check func() error) error {
	return poll(ctx, 60*time.Second, "the simulated nodes to become Ready", func() (bool, error) {
		if err := check(); err != nil {
			return false, err
		}
		for _, n := range nodes {
			node := &corev1.Node{}
			if err := c.Get(ctx, client.ObjectKey{Name: n.Name}, node); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			if !nodeReady(node) {
				return false, nil
			}
		}
		return true, nil
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// poll calls cond every 100ms until it is done, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := cond()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
