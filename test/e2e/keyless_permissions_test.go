package e2e

import (
	"context"
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// TestKeylessPermissions checks what Keyless's ServiceAccount may do with
// deploy/'s RBAC, as the API server's authorizer answers, and then what
// deploy/'s keyless-own-writes policy lets through of its writes.
func TestKeylessPermissions(t *testing.T) {
	g := startGuardedCluster(t)
	t.Run("rbac", func(t *testing.T) { testKeylessRBAC(t, g) })
	t.Run("writes", func(t *testing.T) { testKeylessWrites(t, g) })
}

func testKeylessRBAC(t *testing.T, g *guardedCluster) {
	type access struct{ verb, group, resource, namespace string }
	tests := []struct {
		access
		want bool
	}{
		{access{"watch", "", "serviceaccounts", ""}, true},
		{access{"create", "", "serviceaccounts", g.tenantNS}, true},
		{access{"patch", "", "serviceaccounts", g.tenantNS}, true},
		{access{"delete", "", "serviceaccounts", g.tenantNS}, false},
		{access{"patch", "apps", "deployments", g.tenantNS}, true},
		{access{"update", "apps", "deployments", g.tenantNS}, false},
		{access{"patch", "apps", "statefulsets", g.tenantNS}, true},
		{access{"patch", "apps", "daemonsets", g.tenantNS}, true},
		{access{"patch", "batch", "cronjobs", g.tenantNS}, true},
		{access{"watch", "batch", "jobs", ""}, true},
		{access{"patch", "batch", "jobs", g.tenantNS}, false},
		{access{"update", "batch", "jobs", g.tenantNS}, false},
		{access{"create", "", "pods", g.tenantNS}, false},
		{access{"get", "", "secrets", ""}, false},
		{access{"patch", "", "namespaces", ""}, false},
		{access{"create", "", "events", g.tenantNS}, true},
		{access{"update", "coordination.k8s.io", "leases", "keyless-system"}, true},
		{access{"update", "coordination.k8s.io", "leases", g.tenantNS}, false},
		{access{"get", "", "configmaps", "keyless-system"}, true},
		{access{"create", "", "configmaps", "keyless-system"}, true},
		{access{"update", "", "configmaps", "keyless-system"}, true},
		{access{"delete", "", "configmaps", "keyless-system"}, true},
		{access{"get", "", "configmaps", g.tenantNS}, false},
		{access{"create", "", "configmaps", "kube-system"}, false},
		{access{"create", "authentication.k8s.io", "tokenreviews", ""}, true},
		{access{"create", "authorization.k8s.io", "subjectaccessreviews", ""}, true},
		{access{"impersonate", "", "serviceaccounts", g.tenantNS}, false},
	}
	for _, tt := range tests {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: tt.verb, Group: tt.group, Resource: tt.resource, Namespace: tt.namespace,
			},
		}}
		if err := g.keyless.Create(context.Background(), review); err != nil {
			t.Fatalf("%+v: %v", tt.access, err)
		}
		if review.Status.Allowed != tt.want {
			t.Errorf("%s %s.%s in %q: allowed = %v, want %v", tt.verb, tt.resource, tt.group, tt.namespace,
				review.Status.Allowed, tt.want)
		}
	}
}

// restartPatch is the patch the controller sends to restart a workload.
func restartPatch(kind string) string {
	leaf := map[string]any{"metadata": map[string]any{"annotations": map[string]any{
		annotations.KeyRestartedAt: "2026-12-06T10:00:00Z"}}}
	path := workload.PodTemplatePath(kind)
	for i := len(path) - 1; i >= 0; i-- {
		leaf = map[string]any{path[i]: leaf}
	}
	raw, _ := json.Marshal(leaf)
	return string(raw)
}

// write is one request of Keyless's ServiceAccount, sent as a dry run so that
// every case starts from the same objects.
type write func(ctx context.Context, c client.Client) error

func patchOf(obj client.Object, body string) write {
	return func(ctx context.Context, c client.Client) error {
		return c.Patch(ctx, obj.DeepCopyObject().(client.Object), client.RawPatch(types.MergePatchType, []byte(body)), client.DryRunAll)
	}
}

func createOf(obj client.Object) write {
	return func(ctx context.Context, c client.Client) error {
		return c.Create(ctx, obj.DeepCopyObject().(client.Object), client.DryRunAll)
	}
}

func deleteOf(obj client.Object) write {
	return func(ctx context.Context, c client.Client) error {
		return c.Delete(ctx, obj.DeepCopyObject().(client.Object), client.DryRunAll)
	}
}

func testKeylessWrites(t *testing.T, g *guardedCluster) {
	ns := g.tenantNS
	deploy := deployment(ns, "orders", withTemplateAnnotations(annotations.KeyRestartedAt, "2026-01-01T00:00:00Z", "team", "a"))
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ledger"}, Spec: appsv1.StatefulSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, Template: podSpec()}}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"}, Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, Template: podSpec()}}
	cron := cronJob(ns, "nightly", func(o client.Object) { o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template.Labels = nil })
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "once"}, Spec: batchv1.JobSpec{Template: podSpec()}}
	job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	sa := serviceAccount(ns, "orders", annotated("team", "a", annotations.KeyAWSRole, "team-a-orders"),
		func(o client.Object) {
			o.SetLabels(map[string]string{"team": "a"})
			o.SetFinalizers([]string{otherFinalizer})
		})
	record := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "keyless-system", Name: "record-1",
		Labels: map[string]string{"keyless.dev/record": "aws"}}}
	for _, o := range []client.Object{deploy, sts, ds, cron, job, sa, record} {
		g.create(t, o)
	}
	policy := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "keyless-system", Name: "keyless-policy"}}
	owner, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "Deployment", Name: deploy.Name, UID: deploy.UID}}}})

	const (
		allowed      = ""
		policyDenies = "keyless-own-writes"
	)
	tests := []struct {
		name    string
		write   write
		wantErr string // allowed, policyDenies, or part of an RBAC refusal
	}{
		{"restart a Deployment", patchOf(deploy, restartPatch("Deployment")), allowed},
		{"restart a StatefulSet", patchOf(sts, restartPatch("StatefulSet")), allowed},
		{"restart a DaemonSet", patchOf(ds, restartPatch("DaemonSet")), allowed},
		{"restart a CronJob", patchOf(cron, restartPatch("CronJob")), allowed},
		{"restart a Job", patchOf(job, restartPatch("Job")), `cannot patch resource "jobs"`},
		{"change a Deployment's image", patchOf(deploy,
			`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"evil.example/miner"}]}}}}`), policyDenies},
		{"restart a Deployment and change its image", patchOf(deploy,
			`{"spec":{"template":{"metadata":{"annotations":{"keyless.dev/restarted-at":"now"}},`+
				`"spec":{"containers":[{"name":"app","image":"evil.example/miner"}]}}}}`), policyDenies},
		{"make a Deployment's pods privileged", patchOf(deploy, `{"spec":{"template":{"spec":{"hostNetwork":true}}}}`), policyDenies},
		{"scale a Deployment", patchOf(deploy, `{"spec":{"replicas":5}}`), policyDenies},
		{"label a Deployment's pods", patchOf(deploy, `{"spec":{"template":{"metadata":{"labels":{"extra":"y"}}}}}`), policyDenies},
		{"set another pod-template annotation", patchOf(deploy,
			`{"spec":{"template":{"metadata":{"annotations":{"team":"b"}}}}}`), policyDenies},
		{"remove another pod-template annotation", patchOf(deploy,
			`{"spec":{"template":{"metadata":{"annotations":{"team":null}}}}}`), policyDenies},
		{"annotate a Deployment", patchOf(deploy, `{"metadata":{"annotations":{"x":"y"}}}`), policyDenies},
		{"change a CronJob's schedule", patchOf(cron, `{"spec":{"schedule":"* * * * *"}}`), policyDenies},
		{"change a CronJob's image", patchOf(cron,
			`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"evil.example/miner"}]}}}}}}`), policyDenies},

		{"record a status annotation", patchOf(sa, `{"metadata":{"annotations":{"keyless.dev/status-aws":"Ready"}}}`), allowed},
		{"remove a connection annotation", patchOf(sa, `{"metadata":{"annotations":{"keyless.dev/aws-role":null}}}`), allowed},
		{"set the Azure client ID", patchOf(sa, `{"metadata":{"annotations":{"azure.workload.identity/client-id":"c"}}}`), allowed},
		{"set the GKE service account", patchOf(sa, `{"metadata":{"annotations":{"iam.gke.io/gcp-service-account":"a@p.iam.gserviceaccount.com"}}}`), allowed},
		{"add the finalizer", patchOf(sa, `{"metadata":{"finalizers":["`+otherFinalizer+`","`+annotations.Finalizer+`"]}}`), allowed},
		{"set owner references", patchOf(sa, string(owner)), allowed},
		{"remove another finalizer", patchOf(sa, `{"metadata":{"finalizers":[]}}`), policyDenies},
		{"change another annotation", patchOf(sa, `{"metadata":{"annotations":{"team":"b"}}}`), policyDenies},
		{"set the EKS role annotation", patchOf(sa, `{"metadata":{"annotations":{"eks.amazonaws.com/role-arn":"arn:aws:iam::1:role/x"}}}`), policyDenies},
		{"change a label", patchOf(sa, `{"metadata":{"labels":{"team":"b"}}}`), policyDenies},
		{"add an image pull secret", patchOf(sa, `{"imagePullSecrets":[{"name":"stolen"}]}`), policyDenies},
		{"turn on token automount", patchOf(sa, `{"automountServiceAccountToken":true}`), policyDenies},

		{"create a record", createOf(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "keyless-system", Name: "record-2",
			Labels: map[string]string{"keyless.dev/record": "gcp"}}}), allowed},
		{"update a record", patchOf(record, `{"data":{"id":"x"}}`), allowed},
		{"delete a record", deleteOf(record), allowed},
		{"unlabel a record", patchOf(record, `{"metadata":{"labels":{"keyless.dev/record":null}}}`), policyDenies},
		{"create an unlabelled ConfigMap", createOf(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Namespace: "keyless-system", Name: "other"}}), policyDenies},
		{"rewrite the policy", patchOf(policy, `{"data":{"policy.yaml":"spec: {rules: []}"}}`), policyDenies},
		{"label the policy as a record", patchOf(policy, `{"metadata":{"labels":{"keyless.dev/record":"x"}}}`), policyDenies},
		{"delete the policy", deleteOf(policy), policyDenies},
		{"create a record elsewhere", createOf(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "record",
			Labels: map[string]string{"keyless.dev/record": "aws"}}}), `cannot create resource "configmaps"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write(context.Background(), g.keyless)
			if tt.wantErr == allowed {
				if err != nil {
					t.Fatalf("got %v, want it allowed", err)
				}
				return
			}
			mustContain(t, err, tt.wantErr)
		})
	}
}

func withTemplateAnnotations(kv ...string) objOpt {
	return func(o client.Object) {
		d := o.(*appsv1.Deployment)
		d.Spec.Template.Annotations = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			d.Spec.Template.Annotations[kv[i]] = kv[i+1]
		}
	}
}
