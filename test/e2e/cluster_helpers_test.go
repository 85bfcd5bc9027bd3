package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// The cluster's controllers, scheduler and kwok take a few seconds more
// than Keyless alone.
const clusterTimeout = 60 * time.Second

// podsOf lists the pods of ns that carry the label app=VALUE.
func podsOf(t *testing.T, ns, app string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	return list.Items
}

// podsEventually waits until the pods of ns labelled app=VALUE pass check.
func podsEventually(t *testing.T, ns, app string, check func([]corev1.Pod) error) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	eventually(t, clusterTimeout, func() error {
		pods = podsOf(t, ns, app)
		return check(pods)
	})
	return pods
}

// running is a check that n pods run, none of them terminating.
func running(n int) func([]corev1.Pod) error {
	return func(pods []corev1.Pod) error {
		var states []string
		ok := 0
		for _, p := range pods {
			states = append(states, p.Name+"="+string(p.Status.Phase))
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				ok++
			}
		}
		if ok != n || len(pods) != n {
			return fmt.Errorf("%d of %d pods running, want %d: %s", ok, len(pods), n, strings.Join(states, " "))
		}
		return nil
	}
}

// workloadIdentityNodes returns the names of the nodes labelled for GKE
// Workload Identity.
func workloadIdentityNodes(t *testing.T) map[string]bool {
	t.Helper()
	var nodes corev1.NodeList
	if err := k8s.List(context.Background(), &nodes, client.MatchingLabels{gkeSel: "true"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range nodes.Items {
		out[n.Name] = true
	}
	return out
}

// replicaSets returns the ReplicaSets of a Deployment, oldest first.
func replicaSets(t *testing.T, d *appsv1.Deployment) []appsv1.ReplicaSet {
	t.Helper()
	get(t, d)
	sets, err := devenv.ReplicaSets(context.Background(), k8s, d)
	if err != nil {
		t.Fatal(err)
	}
	return sets
}

// rolledOut waits until the Deployment's rollout is complete.
func rolledOut(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	eventually(t, clusterTimeout, func() error {
		get(t, d)
		if !devenv.RolledOut(d) {
			return fmt.Errorf("Deployment %s not rolled out: generation %d, status %+v", d.Name, d.Generation, d.Status)
		}
		return nil
	})
}

// withApp labels a Deployment's pods app=NAME and selects them so.
func withApp(name string) objOpt {
	return func(o client.Object) {
		d := o.(*appsv1.Deployment)
		d.Spec.Selector.MatchLabels = map[string]string{"app": name}
		d.Spec.Template.Labels["app"] = name
	}
}

func withReplicas(n int32) objOpt {
	return func(o client.Object) { o.(*appsv1.Deployment).Spec.Replicas = ptr.To(n) }
}

func job(ns, name string, opts ...objOpt) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: batchv1.JobSpec{Template: podSpec()}}
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	for _, o := range opts {
		o(j)
	}
	return j
}

// deleteInBackground deletes obj as kubectl does: the garbage collector
// then deletes or releases what it owns (the API's default for Jobs and
// CronJobs orphans it instead).
func deleteInBackground(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Delete(context.Background(), obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatalf("deleting %T %s: %v", obj, obj.GetName(), err)
	}
}

// namespaceGone waits until the namespace controller has removed ns.
func namespaceGone(t *testing.T, ns string) {
	t.Helper()
	eventually(t, clusterTimeout, func() error {
		got := &corev1.Namespace{}
		err := k8s.Get(context.Background(), client.ObjectKey{Name: ns}, got)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("namespace %s is %s: %+v", ns, got.Status.Phase, got.Status.Conditions)
	})
}

// connectedToAll annotates a workload with a connection to each cloud,
// seeding the identities in the simulators.
func connectedToAll(t *testing.T, name string) objOpt {
	t.Helper()
	kv := []string{annotations.KeyAWSRole, name, annotations.KeyAzureIdentity, name, annotations.KeyAzureResourceGroup, rg,
		annotations.KeyGCPServiceAccount, name + "@" + devenv.GCPProject + ".iam.gserviceaccount.com"}
	seed(t, kv...)
	return annotated(kv...)
}

// readyOnAll waits until the ServiceAccount is Ready on every cloud.
func readyOnAll(t *testing.T, ns, sa string) *corev1.ServiceAccount {
	t.Helper()
	return serviceAccountEventually(t, ns, sa, func(sa *corev1.ServiceAccount) error {
		for _, k := range []string{annotations.KeyStatusAWS, annotations.KeyStatusAzure, annotations.KeyStatusGCP} {
			if err := stateIs(k, "Ready")(sa); err != nil {
				return err
			}
		}
		return nil
	})
}
