package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestJobsGetTheirConnectionsAtCreation: a Job's pod template cannot
// change once it exists, so a connected Job, and the Jobs the real CronJob
// controller makes from a connected CronJob, carry the connection from
// their creation; their pods run as the workload's ServiceAccount on a
// Workload Identity node, and complete.
func TestJobsGetTheirConnectionsAtCreation(t *testing.T) {
	ns := namespace(t)
	j := job(ns, "one-off", connectedToAll(t, "one-off"))
	create(t, j)
	c := cronJob(ns, "every-minute", connectedToAll(t, "every-minute"), func(o client.Object) {
		o.(*batchv1.CronJob).Spec.Schedule = "* * * * *"
	})
	create(t, c)
	// The CronJob fires at the next full minute: the sequential tests run
	// meanwhile.
	t.Parallel()
	readyOnAll(t, ns, "one-off")
	readyOnAll(t, ns, "every-minute")

	get(t, j)
	wantConnected(t, "Job one-off", j.Spec.Template, "one-off")
	completed(t, ns, j.Name, "one-off")

	// The next minute's Job, made by the CronJob controller.
	var made *batchv1.Job
	eventually(t, clusterTimeout+30*time.Second, func() error {
		var list batchv1.JobList
		if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for i, jj := range list.Items {
			if metav1Controller(jj.OwnerReferences) == "CronJob/every-minute" {
				made = &list.Items[i]
				return nil
			}
		}
		return fmt.Errorf("the CronJob has made no Job yet")
	})
	wantConnected(t, "Job "+made.Name, made.Spec.Template, "every-minute")
	completed(t, ns, made.Name, "every-minute")
}

func wantConnected(t *testing.T, what string, tmpl corev1.PodTemplateSpec, sa string) {
	t.Helper()
	if tmpl.Spec.ServiceAccountName != sa || tmpl.Labels[useLabel] != "true" || tmpl.Spec.NodeSelector[gkeSel] != "true" {
		t.Errorf("%s at creation: serviceAccountName %q, labels %v, nodeSelector %v; want %q, %s=true and %s=true",
			what, tmpl.Spec.ServiceAccountName, tmpl.Labels, tmpl.Spec.NodeSelector, sa, useLabel, gkeSel)
	}
}

// completed waits until the Job's pod has run to completion as the
// ServiceAccount on a Workload Identity node.
func completed(t *testing.T, ns, jobName, sa string) {
	t.Helper()
	wi := workloadIdentityNodes(t)
	var list corev1.PodList
	eventually(t, clusterTimeout, func() error {
		if err := k8s.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{"job-name": jobName}); err != nil {
			return err
		}
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodSucceeded {
				return nil
			}
		}
		return fmt.Errorf("no pod of Job %s has succeeded: %d pods", jobName, len(list.Items))
	})
	for _, p := range list.Items {
		if p.Spec.ServiceAccountName != sa || !wi[p.Spec.NodeName] || p.Labels[useLabel] != "true" {
			t.Errorf("pod %s of Job %s: ServiceAccount %q on node %q, labels %v; want %q on a Workload Identity node %v with %s=true",
				p.Name, jobName, p.Spec.ServiceAccountName, p.Spec.NodeName, p.Labels, sa, wi, useLabel)
		}
	}
}
