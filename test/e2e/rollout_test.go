package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

// TestReadyConnectionRollsOutOnce: EKS gives pods their credentials when
// they are created, so an AWS connection becoming ready rolls the
// Deployment out once, a new ReplicaSet of the real Deployment controller
// (GCP, which needs no restart, adds none); a resync, a transient cloud
// error, and a replace of the manifest as written (without
// keyless.dev/restarted-at) roll out nothing.
func TestReadyConnectionRollsOutOnce(t *testing.T) {
	ns := namespace(t)
	gsa := "rollout@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	kv := []string{annotations.KeyAWSRole, "rollout", annotations.KeyGCPServiceAccount, gsa}
	seed(t, kv...)
	written := deployment(ns, "rollout", annotated(kv...), withReplicas(2))
	d := written.DeepCopy()
	create(t, d)
	serviceAccountEventually(t, ns, "rollout", func(sa *corev1.ServiceAccount) error {
		if err := stateIs(annotations.KeyStatusAWS, "Ready")(sa); err != nil {
			return err
		}
		return stateIs(annotations.KeyStatusGCP, "Ready")(sa)
	})
	var restartedAt string
	eventually(t, clusterTimeout, func() error {
		get(t, d)
		if restartedAt = d.Spec.Template.Annotations[annotations.KeyRestartedAt]; restartedAt == "" {
			return fmt.Errorf("the pod template has no %s yet", annotations.KeyRestartedAt)
		}
		return nil
	})
	rolledOut(t, d)
	settled := replicaSets(t, d)
	if len(settled) != 2 {
		t.Fatalf("%d ReplicaSets after the connection became ready, want 2 (the first and the restart): %v", len(settled), rsNames(settled))
	}
	podsEventually(t, ns, "x", running(2))

	unchanged := func(after string) {
		t.Helper()
		rolledOut(t, d)
		if got := d.Spec.Template.Annotations[annotations.KeyRestartedAt]; got != restartedAt {
			t.Errorf("after %s: %s = %q, want %q", after, annotations.KeyRestartedAt, got, restartedAt)
		}
		if sets := replicaSets(t, d); len(sets) != len(settled) {
			t.Errorf("after %s: ReplicaSets %v, want only %v", after, rsNames(sets), rsNames(settled))
		}
	}

	// Resyncs (every 2s here) find everything in place.
	waitForSyncs(t, ns, "rollout", 2)
	unchanged("two resyncs")

	// Every call to EKS fails for a while: the status shows the retries,
	// then Ready again.
	env.Clouds.AWS.SetFaults(fakecloud.Faults{ServerError: 1})
	t.Cleanup(clearFaults)
	serviceAccountEventually(t, ns, "rollout", stateIs(annotations.KeyStatusAWS, "Pending"))
	clearFaults()
	serviceAccountEventually(t, ns, "rollout", stateIs(annotations.KeyStatusAWS, "Ready"))
	waitForSyncs(t, ns, "rollout", 1)
	unchanged("transient cloud errors")

	// kubectl replace -f of the manifest as written.
	replaced := written.DeepCopy()
	if err := k8s.Update(context.Background(), replaced); err != nil {
		t.Fatalf("replacing the Deployment: %v", err)
	}
	get(t, d)
	if d.Generation != replaced.Generation {
		t.Fatalf("generation %d after the replace, answer said %d", d.Generation, replaced.Generation)
	}
	waitForSyncs(t, ns, "rollout", 1)
	unchanged("a replace of the unchanged manifest")
}

// waitForSyncs waits until the AWS status of the ServiceAccount has been
// written n more times (each resync writes its lastSync).
func waitForSyncs(t *testing.T, ns, name string, n int) {
	t.Helper()
	var last time.Time
	for i := 0; i <= n; i++ {
		serviceAccountEventually(t, ns, name, func(sa *corev1.ServiceAccount) error {
			st, _ := status(sa, annotations.KeyStatusAWS)
			if !st.LastSync.After(last) {
				return fmt.Errorf("no sync after %s", last)
			}
			last = st.LastSync
			return nil
		})
	}
}

func rsNames(sets []appsv1.ReplicaSet) []string {
	out := make([]string, len(sets))
	for i, rs := range sets {
		out[i] = rs.Name
	}
	return out
}
