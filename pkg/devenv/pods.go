package devenv

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// WaitForRollouts waits until every Deployment among objs has rolled out
// (all its pods updated and available, none left of an older version) and
// stayed so for a second, so that a restart that follows a connection
// becoming ready is waited for too.
func WaitForRollouts(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, timeout time.Duration) error {
	var since time.Time
	var last string
	return poll(ctx, timeout, "the Deployments to roll out", func() (bool, error) {
		state, done, err := rollouts(ctx, c, objs)
		if err != nil || !done {
			since = time.Time{}
			return false, err
		}
		if state != last || since.IsZero() {
			since, last = time.Now(), state
		}
		return time.Since(since) >= time.Second, nil
	})
}

// rollouts returns the Deployments' generations and whether all rolled out.
func rollouts(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) (string, bool, error) {
	var state []string
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), d); err != nil {
			return "", false, err
		}
		if !RolledOut(d) {
			return "", false, nil
		}
		state = append(state, fmt.Sprintf("%s/%d", d.Name, d.Generation))
	}
	return strings.Join(state, " "), true, nil
}

// RolledOut reports whether a Deployment's rollout is complete, as
// `kubectl rollout status` judges it.
func RolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want
}

// DescribePods lists the pods of the namespaces: their phase (or why they
// wait), node, ServiceAccount, and what Keyless's webhook put in their
// template (the Azure label, the GKE nodeSelector).
func DescribePods(ctx context.Context, c client.Client, namespaces []string) ([]string, error) {
	var lines []string
	for _, ns := range namespaces {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing the pods of %s: %w", ns, err)
		}
		slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
		for _, p := range pods.Items {
			line := fmt.Sprintf("Pod %s/%s: %s", p.Namespace, p.Name, podState(&p))
			if p.Spec.NodeName != "" {
				line += " on node " + p.Spec.NodeName
			}
			line += ", ServiceAccount " + p.Spec.ServiceAccountName
			if v, ok := p.Labels[annotations.AzureUseLabel]; ok {
				line += fmt.Sprintf(", label %s=%s", annotations.AzureUseLabel, v)
			}
			if v, ok := p.Spec.NodeSelector[annotations.GKEMetadataServerNodeSelector]; ok {
				line += fmt.Sprintf(", nodeSelector %s=%s", annotations.GKEMetadataServerNodeSelector, v)
			}
			lines = append(lines, line)
		}
	}
	return lines, nil
}

func podState(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	if p.Status.Phase == corev1.PodPending {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return fmt.Sprintf("Pending (%s: %s)", c.Reason, c.Message)
			}
		}
	}
	return string(p.Status.Phase)
}

// DescribeRestarts lists the Deployments among objs that Keyless restarted
// (the pod-template annotation keyless.dev/restarted-at) and their
// ReplicaSets, oldest first.
func DescribeRestarts(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) ([]string, error) {
	var lines []string
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), d); err != nil {
			return nil, err
		}
		at, ok := d.Spec.Template.Annotations[annotations.KeyRestartedAt]
		if !ok {
			continue
		}
		sets, err := ReplicaSets(ctx, c, d)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, rs := range sets {
			names = append(names, fmt.Sprintf("%s (%s)", rs.Name, plural(int(rs.Status.Replicas), "pod")))
		}
		lines = append(lines, fmt.Sprintf("Deployment %s/%s: restarted at %s, once its connections were ready, so that new pods get "+
			"their credentials; ReplicaSets %s", d.Namespace, d.Name, at, strings.Join(names, " -> ")))
	}
	return lines, nil
}

// ReplicaSets returns the ReplicaSets a Deployment owns, oldest first.
func ReplicaSets(ctx context.Context, c client.Client, d *appsv1.Deployment) ([]appsv1.ReplicaSet, error) {
	var all appsv1.ReplicaSetList
	if err := c.List(ctx, &all, client.InNamespace(d.Namespace)); err != nil {
		return nil, fmt.Errorf("listing ReplicaSets: %w", err)
	}
	var out []appsv1.ReplicaSet
	for _, rs := range all.Items {
		for _, ref := range rs.OwnerReferences {
			if ref.UID == d.UID {
				out = append(out, rs)
			}
		}
	}
	slices.SortFunc(out, func(a, b appsv1.ReplicaSet) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return revision(a) - revision(b)
	})
	return out, nil
}

func revision(rs appsv1.ReplicaSet) int {
	n, _ := strconv.Atoi(rs.Annotations["deployment.kubernetes.io/revision"])
	return n
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
