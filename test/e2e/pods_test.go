package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// TestConnectedPodsRunOnWorkloadIdentityNodes: the Pods that the real
// ReplicaSet controller makes from a connected Deployment run as the
// workload's own ServiceAccount, with the Azure label and the GKE
// nodeSelector, and the scheduler puts them only on Workload Identity
// nodes.
func TestConnectedPodsRunOnWorkloadIdentityNodes(t *testing.T) {
	ns := namespace(t)
	d := deployment(ns, "orders-pods", withReplicas(3), connectedToAll(t, "orders-pods"))
	create(t, d)
	readyOnAll(t, ns, "orders-pods")
	rolledOut(t, d)
	wi := workloadIdentityNodes(t)
	if len(wi) == 0 || len(wi) == len(allNodes(t)) {
		t.Fatalf("the cluster must mix nodes with and without Workload Identity: %v of %v", wi, allNodes(t))
	}
	pods := podsEventually(t, ns, "x", running(3))
	for _, p := range pods {
		if p.Spec.ServiceAccountName != "orders-pods" {
			t.Errorf("pod %s runs as %q, want the workload's own ServiceAccount", p.Name, p.Spec.ServiceAccountName)
		}
		if p.Labels[useLabel] != "true" {
			t.Errorf("pod %s: label %s = %q, want \"true\"", p.Name, useLabel, p.Labels[useLabel])
		}
		if p.Spec.NodeSelector[gkeSel] != "true" {
			t.Errorf("pod %s: nodeSelector %v, want %s=true", p.Name, p.Spec.NodeSelector, gkeSel)
		}
		if !wi[p.Spec.NodeName] {
			t.Errorf("pod %s runs on %q, not a Workload Identity node (%v)", p.Name, p.Spec.NodeName, wi)
		}
		if owner := metaController(p); owner == "" || !strings.HasPrefix(owner, "ReplicaSet/orders-pods-") {
			t.Errorf("pod %s is controlled by %q, want a ReplicaSet of the Deployment", p.Name, owner)
		}
	}
}

// TestPodsWaitForAWorkloadIdentityNode takes the Workload Identity label
// off every node: a GCP-connected pod stays Pending and says why, an
// unconnected one runs, and the waiting pod is scheduled once a node has
// the label again.
func TestPodsWaitForAWorkloadIdentityNode(t *testing.T) {
	wi := workloadIdentityNodes(t)
	setWILabel := func(on bool) {
		for name := range wi {
			n := &corev1.Node{}
			n.Name = name
			update(t, n, func() {
				if on {
					n.Labels[gkeSel] = "true"
				} else {
					delete(n.Labels, gkeSel)
				}
			})
		}
	}
	setWILabel(false)
	restored := false
	t.Cleanup(func() {
		if !restored {
			setWILabel(true)
		}
	})

	ns := namespace(t)
	seed(t, annotations.KeyGCPServiceAccount, gcpEmail)
	create(t, deployment(ns, "gcp-only", annotated(annotations.KeyGCPServiceAccount, gcpEmail), withApp("gcp")))
	create(t, deployment(ns, "plain", withApp("plain")))
	podsEventually(t, ns, "plain", running(1))
	pending := podsEventually(t, ns, "gcp", func(pods []corev1.Pod) error {
		if len(pods) != 1 {
			return fmt.Errorf("%d pods, want 1", len(pods))
		}
		p := pods[0]
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return nil
			}
		}
		return fmt.Errorf("pod %s: phase %s, conditions %+v; want Pending and Unschedulable", p.Name, p.Status.Phase, p.Status.Conditions)
	})[0]
	if pending.Status.Phase != corev1.PodPending || pending.Spec.NodeName != "" {
		t.Errorf("pod %s: phase %s on %q, want Pending on no node", pending.Name, pending.Status.Phase, pending.Spec.NodeName)
	}
	msg := scheduledCondition(&pending).Message
	if !strings.Contains(msg, "node affinity/selector") {
		t.Errorf("the pod's PodScheduled message %q does not say that no node matches its nodeSelector", msg)
	}

	setWILabel(true)
	restored = true
	pods := podsEventually(t, ns, "gcp", running(1))
	if !wi[pods[0].Spec.NodeName] {
		t.Errorf("pod %s runs on %q, want a Workload Identity node (%v)", pods[0].Name, pods[0].Spec.NodeName, wi)
	}
}

func allNodes(t *testing.T) []string {
	t.Helper()
	var nodes corev1.NodeList
	if err := k8s.List(context.Background(), &nodes); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes.Items {
		out = append(out, n.Name)
	}
	return out
}

func scheduledCondition(p *corev1.Pod) corev1.PodCondition {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c
		}
	}
	return corev1.PodCondition{}
}

// metaController returns KIND/NAME of the pod's controller, "" if none.
func metaController(p corev1.Pod) string { return metav1Controller(p.OwnerReferences) }

// metav1Controller returns KIND/NAME of the controller among refs, "" if none.
func metav1Controller(refs []metav1.OwnerReference) string {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return r.Kind + "/" + r.Name
		}
	}
	return ""
}
