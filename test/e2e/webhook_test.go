package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

const (
	gcpEmail   = "orders-api@demo-project.iam.gserviceaccount.com"
	azureID    = "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders"
	azureCID   = "00000000-0000-4000-8000-000000000001"
	useLabel   = annotations.AzureUseLabel
	gkeSel     = annotations.GKEMetadataServerNodeSelector
	gkeSAAnnot = annotations.GKEServiceAccount
)

func TestAnnotatedDeploymentGetsServiceAccountLabelAndNodeSelector(t *testing.T) {
	ns := namespace(t)
	d := deployment(ns, "orders-api", annotated(
		annotations.KeyAWSRole, "orders-api",
		annotations.KeyAzureIdentity, azureID,
		annotations.KeyAzureClientID, azureCID,
		annotations.KeyGCPServiceAccount, gcpEmail))
	create(t, d)
	get(t, d)

	spec := d.Spec.Template
	if spec.Spec.ServiceAccountName != "orders-api" {
		t.Errorf("serviceAccountName = %q, want the workload's own %q", spec.Spec.ServiceAccountName, "orders-api")
	}
	if spec.Labels[useLabel] != "true" {
		t.Errorf("pod template label %s = %q, want \"true\"", useLabel, spec.Labels[useLabel])
	}
	if spec.Spec.NodeSelector[gkeSel] != "true" {
		t.Errorf("nodeSelector %s = %q, want \"true\"", gkeSel, spec.Spec.NodeSelector[gkeSel])
	}
	if spec.Labels["app"] != "x" {
		t.Errorf("the user's label app=x was lost: %v", spec.Labels)
	}

	sa := serviceAccountEventually(t, ns, "orders-api", wantAnnotation(annotations.KeyAWSRole, "orders-api"))
	for k, v := range map[string]string{
		gkeSAAnnot:                          gcpEmail,
		annotations.AzureClientIDAnnotation: azureCID,
		annotations.KeyAzureIdentity:        azureID,
	} {
		if sa.Annotations[k] != v {
			t.Errorf("ServiceAccount annotation %s = %q, want %q", k, sa.Annotations[k], v)
		}
	}
	if len(sa.OwnerReferences) != 1 || sa.OwnerReferences[0].UID != d.UID || sa.OwnerReferences[0].Kind != "Deployment" {
		t.Errorf("ServiceAccount owners = %+v, want the Deployment (uid %s)", sa.OwnerReferences, d.UID)
	}
}

func TestCronJobUsesTheSamePodTemplateCode(t *testing.T) {
	ns := namespace(t)
	c := cronJob(ns, "report", annotated(annotations.KeyGCPServiceAccount, gcpEmail))
	create(t, c)
	get(t, c)
	tmpl := c.Spec.JobTemplate.Spec.Template
	if tmpl.Spec.ServiceAccountName != "report" || tmpl.Spec.NodeSelector[gkeSel] != "true" {
		t.Errorf("CronJob pod template = sa %q nodeSelector %v; want sa report and the GKE nodeSelector",
			tmpl.Spec.ServiceAccountName, tmpl.Spec.NodeSelector)
	}
	serviceAccountEventually(t, ns, "report", wantAnnotation(gkeSAAnnot, gcpEmail))
}

func TestServiceAccountGetsGKEAnnotation(t *testing.T) {
	ns := namespace(t)
	sa := serviceAccount(ns, "billing", annotated(annotations.KeyGCPServiceAccount, gcpEmail))
	create(t, sa)
	// The create's answer: the webhook, not the controller, added it.
	if !containsString(sa.Finalizers, annotations.Finalizer) {
		t.Errorf("finalizers %v right after the create, want %s added at admission", sa.Finalizers, annotations.Finalizer)
	}
	get(t, sa)
	if sa.Annotations[gkeSAAnnot] != gcpEmail {
		t.Errorf("%s = %q, want %q", gkeSAAnnot, sa.Annotations[gkeSAAnnot], gcpEmail)
	}
}

func TestTypoIsDeniedWithSuggestion(t *testing.T) {
	ns := namespace(t)
	err := k8s.Create(context.Background(), deployment(ns, "typo", annotated(
		"keyless.dev/aws-rol", "orders-api",
		annotations.KeyGCPServiceAccount, "Not-An-Email")))
	mustContain(t, err, `keyless.dev/aws-rol`, `did you mean "keyless.dev/aws-role"?`,
		annotations.KeyGCPServiceAccount, "denied the request")
	if !apierrors.IsForbidden(err) {
		t.Errorf("want a Forbidden denial, got %v", err)
	}
}

func TestConflictsAreDenied(t *testing.T) {
	ns := namespace(t)
	create(t, serviceAccount(ns, "shared", annotated(annotations.KeyAWSRole, "payments")))
	// The webhook reads its cache, which sees the ServiceAccount moments later.
	eventually(t, 10*time.Second, func() error {
		err := k8s.Create(context.Background(), deployment(ns, "orders", withServiceAccount("shared"),
			annotated(annotations.KeyAWSRole, "orders")), client.DryRunAll)
		if err == nil {
			return fmt.Errorf("a workload with another AWS role was admitted")
		}
		mustContain(t, err, `ServiceAccount shared is already connected to AWS role "payments" by its own annotations`)
		return nil
	})

	create(t, deployment(ns, "first", withServiceAccount("team"), annotated(annotations.KeyGCPServiceAccount, gcpEmail)))
	eventually(t, 10*time.Second, func() error {
		err := k8s.Create(context.Background(), deployment(ns, "second", withServiceAccount("team"),
			annotated(annotations.KeyGCPServiceAccount, "other-app@demo-project.iam.gserviceaccount.com")))
		if err == nil {
			return fmt.Errorf("second workload with another Google service account was admitted")
		}
		mustContain(t, err, "Deployment/first", gcpEmail)
		return nil
	})

	// The same identity on a shared ServiceAccount is fine.
	create(t, deployment(ns, "third", withServiceAccount("team"), annotated(annotations.KeyGCPServiceAccount, gcpEmail)))
}

func TestSecondIdenticalUpdateChangesNothing(t *testing.T) {
	ns := namespace(t)
	d := deployment(ns, "stable", annotated(annotations.KeyAzureIdentity, azureID, annotations.KeyGCPServiceAccount, gcpEmail))
	create(t, d)
	// The deployment controller writes the status meanwhile, which changes
	// the resourceVersion but never the generation; a patch of the spec by
	// the webhook would change both.
	var before int64
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		get(t, d)
		before = d.Generation
		return k8s.Update(context.Background(), d)
	})
	if err != nil {
		t.Fatalf("updating unchanged: %v", err)
	}
	if d.Generation != before {
		t.Errorf("an identical update changed the spec (generation %d -> %d): the webhook patched it again", before, d.Generation)
	}
}

func TestRemovingAnAnnotationRemovesOnlyWhatKeylessAdded(t *testing.T) {
	ns := namespace(t)
	// The user wrote the Azure label themselves; Keyless adds the nodeSelector and the ServiceAccount name.
	d := deployment(ns, "mixed", withTemplateLabel(useLabel, "true"),
		annotated(annotations.KeyAzureIdentity, azureID, annotations.KeyGCPServiceAccount, gcpEmail, "team", "a"))
	create(t, d)
	serviceAccountEventually(t, ns, "mixed", wantAnnotation(gkeSAAnnot, gcpEmail))

	update(t, d, func() {
		delete(d.Annotations, annotations.KeyAzureIdentity)
		delete(d.Annotations, annotations.KeyGCPServiceAccount)
	})
	get(t, d)
	tmpl := d.Spec.Template
	if tmpl.Labels[useLabel] != "true" {
		t.Errorf("the user's own label %s was removed", useLabel)
	}
	if _, ok := tmpl.Spec.NodeSelector[gkeSel]; ok {
		t.Errorf("the nodeSelector Keyless added is still there: %v", tmpl.Spec.NodeSelector)
	}
	if tmpl.Spec.ServiceAccountName != "" {
		t.Errorf("serviceAccountName = %q, want it removed again (Keyless had set it)", tmpl.Spec.ServiceAccountName)
	}
	if _, ok := d.Annotations[annotations.KeyInjected]; ok {
		t.Errorf("%s is still there: %v", annotations.KeyInjected, d.Annotations)
	}
	if d.Annotations["team"] != "a" {
		t.Errorf("the user's annotation team=a was lost")
	}
	sa := serviceAccountEventually(t, ns, "mixed", noAnnotation(annotations.KeyGCPServiceAccount))
	for _, k := range []string{gkeSAAnnot, annotations.KeyAzureIdentity, annotations.KeyPropagated} {
		if _, ok := sa.Annotations[k]; ok {
			t.Errorf("ServiceAccount still has %s: %v", k, sa.Annotations)
		}
	}
}

func TestServiceAccountKeepsValuesItsOwnerWrote(t *testing.T) {
	ns := namespace(t)
	sa := serviceAccount(ns, "own", annotated(gkeSAAnnot, gcpEmail, annotations.KeyGCPServiceAccount, gcpEmail))
	create(t, sa)
	// The controller writes to the ServiceAccount too: update retries on conflicts.
	update(t, sa, func() { delete(sa.Annotations, annotations.KeyGCPServiceAccount) })
	get(t, sa)
	if sa.Annotations[gkeSAAnnot] != gcpEmail {
		t.Errorf("the owner's %s was removed: %v", gkeSAAnnot, sa.Annotations)
	}
}

func TestServerSideDryRunCreatesNothing(t *testing.T) {
	ns := namespace(t)
	d := deployment(ns, "dry", annotated(annotations.KeyGCPServiceAccount, gcpEmail))
	if err := k8s.Create(context.Background(), d, client.DryRunAll); err != nil {
		t.Fatalf("dry-run create: %v", err)
	}
	if d.Spec.Template.Spec.ServiceAccountName != "dry" {
		t.Errorf("the dry-run answer does not show the mutation: serviceAccountName %q", d.Spec.Template.Spec.ServiceAccountName)
	}
	time.Sleep(2 * time.Second) // give a (wrong) side effect time to show
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(d), &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Deployment exists after a dry run: %v", err)
	}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "dry"}, &corev1.ServiceAccount{}); !apierrors.IsNotFound(err) {
		t.Errorf("a ServiceAccount was created for a dry run: %v", err)
	}
}

func TestJobTemplateCannotGainConnectionsAfterCreation(t *testing.T) {
	ns := namespace(t)
	j := &batchv1.Job{}
	j.Namespace, j.Name = ns, "once"
	j.Annotations = map[string]string{"keyless.dev/injected": ""}
	j.Spec.Template = podSpec()
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	create(t, j)
	get(t, j)
	j.Annotations[annotations.KeyGCPServiceAccount] = gcpEmail
	err := k8s.Update(context.Background(), j)
	mustContain(t, err, "pod template of a Job cannot change")
}

func TestWebhookDownFailsClosedOnlyForAnnotatedObjects(t *testing.T) {
	ns := namespace(t)
	if err := env.StopKeyless(); err != nil {
		t.Fatalf("stopping keyless: %v", err)
	}
	t.Cleanup(func() {
		if err := env.StartKeyless(context.Background()); err != nil {
			t.Fatalf("restarting keyless: %v", err)
		}
	})
	if err := k8s.Create(context.Background(), deployment(ns, "plain")); err != nil {
		t.Errorf("an unannotated Deployment was refused while the webhook is down: %v", err)
	}
	err := k8s.Create(context.Background(), deployment(ns, "connected", annotated(annotations.KeyAWSRole, "orders")))
	mustContain(t, err, "mutate.keyless.dev")
}
