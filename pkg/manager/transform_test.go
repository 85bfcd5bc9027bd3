package manager

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/controller"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// blob is what a hostile tenant writes: one annotation of 200 KiB.
var blob = strings.Repeat("x", 200<<10)

// status is a realistic status written by Keyless.
const status = `{"state":"Ready","reason":"Created","identity":"orders-api","id":"a-1234567890","hash":"9f86d081","lastSync":"2026-12-05T10:00:00Z"}`

// kept are annotations Keyless reads from cached objects, each at a
// realistic size.
var kept = map[string]string{
	annotations.KeyAWSRole:                "arn:aws:iam::123456789012:role/" + strings.Repeat("p/", 250) + "orders-api",
	annotations.KeyStatusAWS:              status,
	annotations.KeyPropagated:             "aws-role,gcp-service-account",
	annotations.KeyInjected:               "azure-client-id",
	annotations.AzureClientIDAnnotation:   "00000000-0000-0000-0000-000000000001",
	annotations.AzureTenantIDAnnotation:   "00000000-0000-0000-0000-000000000002",
	annotations.GKEServiceAccount:         "orders@my-project.iam.gserviceaccount.com",
	annotations.KeyStatusGCP:              `{"state":"Error","message":"` + strings.Repeat("m", 4000) + `"}`,
	annotations.KeyRestartOnReady:         "false",
	annotations.KeyGCPServiceAccount:      "orders@my-project.iam.gserviceaccount.com",
	annotations.KeyAzureIdentity:          "orders",
	annotations.KeyAzureResourceGroup:     "rg-orders",
	annotations.KeyDeletionPolicy:         "retain",
	annotations.KeyAWSTargetRole:          "arn:aws:iam::210987654321:role/orders",
	annotations.KeyAWSSessionTags:         "false",
	annotations.KeyAzureClientID:          "00000000-0000-0000-0000-000000000003",
	"keyless.dev/unknown-but-rejected-at": "admission",
}

// hostile are annotations no part of Keyless reads, at sizes a tenant may
// choose: plain objects with them never reach the webhook.
var hostile = map[string]string{
	"example.com/blob": blob,
	"kubectl.kubernetes.io/last-applied-configuration": blob,
	// Under the clouds' prefixes, but not keys Keyless reads.
	"iam.gke.io/blob":              blob,
	"azure.workload.identity/blob": blob,
}

// oversized are keys Keyless reads, with values no valid one comes near.
var oversized = map[string]string{
	annotations.GKEServiceAccount:       blob,
	annotations.AzureClientIDAnnotation: blob,
	annotations.KeyStatusAWS:            blob,
	annotations.KeyPropagated:           blob,
}

// restarted is the pod-template annotation Keyless writes to restart a
// workload; the caches never read it back.
var restarted = map[string]string{annotations.KeyRestartedAt: "2026-12-05T10:00:00Z"}

func merged(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

func meta(annots map[string]string) metav1.ObjectMeta {
	now := metav1.Now()
	return metav1.ObjectMeta{
		Namespace: "shop", Name: "orders", UID: "uid-1", ResourceVersion: "42", Generation: 3,
		DeletionTimestamp: &now, Finalizers: []string{annotations.Finalizer, "example.com/other"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders", UID: "uid-0"}},
		Labels:          map[string]string{"app": "orders", "example.com/blob": strings.Repeat("y", 63)},
		Annotations:     annots,
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}
}

func template(annots map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "orders"}, Annotations: annots},
		Spec: corev1.PodSpec{ServiceAccountName: "orders", Containers: []corev1.Container{{Name: "app", Image: "orders:1"}},
			NodeSelector: map[string]string{"example.com/blob": blob}},
	}
}

func workloads(m metav1.ObjectMeta, t corev1.PodTemplateSpec) []client.Object {
	return []client.Object{
		&appsv1.Deployment{ObjectMeta: m, Spec: appsv1.DeploymentSpec{Template: t}},
		&appsv1.StatefulSet{ObjectMeta: m, Spec: appsv1.StatefulSetSpec{Template: t}},
		&appsv1.DaemonSet{ObjectMeta: m, Spec: appsv1.DaemonSetSpec{Template: t}},
		&batchv1.Job{ObjectMeta: m, Spec: batchv1.JobSpec{Template: t}},
		&batchv1.CronJob{ObjectMeta: m, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: t}}}},
	}
}

func transform(t *testing.T, in client.Object) client.Object {
	t.Helper()
	var f func(any) (any, error)
	switch in.(type) {
	case *corev1.ServiceAccount:
		f = slimServiceAccount
	case *corev1.Namespace:
		f = slimNamespace
	default:
		f = slimWorkload
	}
	out, err := f(in)
	if err != nil {
		t.Fatal(err)
	}
	return out.(client.Object)
}

// TestTransformKeepsOnlyWhatKeylessReads feeds each cached type objects
// with hostile and oversized annotations next to the ones Keyless reads.
func TestTransformKeepsOnlyWhatKeylessReads(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want map[string]string // nil: no annotations at all
	}{
		{"nothing", nil, nil},
		{"only what Keyless reads", kept, kept},
		{"only hostile keys: nothing kept", hostile, nil},
		{"hostile keys next to Keyless's", merged(hostile, kept), kept},
		{"oversized values of Keyless's keys are replaced", merged(kept, oversized), merged(kept, map[string]string{
			annotations.GKEServiceAccount: tooLong, annotations.AzureClientIDAnnotation: tooLong,
			annotations.KeyStatusAWS: tooLong, annotations.KeyPropagated: tooLong,
		})},
		{"the longest values kept", map[string]string{
			annotations.AzureClientIDAnnotation: strings.Repeat("c", maxValue),
			annotations.KeyStatusAzure:          strings.Repeat("s", maxStatusValue),
		}, map[string]string{
			annotations.AzureClientIDAnnotation: strings.Repeat("c", maxValue),
			annotations.KeyStatusAzure:          strings.Repeat("s", maxStatusValue),
		}},
		{"one byte more is replaced", map[string]string{
			annotations.AzureClientIDAnnotation: strings.Repeat("c", maxValue+1),
			annotations.KeyStatusAzure:          strings.Repeat("s", maxStatusValue+1),
		}, map[string]string{annotations.AzureClientIDAnnotation: tooLong, annotations.KeyStatusAzure: tooLong}},
	}
	for _, tt := range tests {
		for _, in := range append(workloads(meta(tt.in), template(merged(hostile, kept, restarted))),
			&corev1.ServiceAccount{ObjectMeta: meta(tt.in), Secrets: []corev1.ObjectReference{{Name: "token"}}}) {
			t.Run(fmt.Sprintf("%s/%T", tt.name, in), func(t *testing.T) {
				out := transform(t, in)
				if got := out.GetAnnotations(); !maps.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
					t.Errorf("annotations:\n got %v\nwant %v", abbreviate(got), abbreviate(tt.want))
				}
				// What events, patches and the controller's checks need.
				if out.GetName() != "orders" || out.GetNamespace() != "shop" || out.GetUID() != "uid-1" ||
					out.GetResourceVersion() != "42" || out.GetDeletionTimestamp() == nil ||
					len(out.GetFinalizers()) != 2 || len(out.GetOwnerReferences()) != 1 {
					t.Errorf("metadata Keyless needs was lost: %+v", out)
				}
				// Labels of ServiceAccounts and workloads are never read.
				if out.GetLabels() != nil || out.GetManagedFields() != nil {
					t.Errorf("labels %v, managedFields %v: want neither", out.GetLabels(), out.GetManagedFields())
				}
				if sa, ok := out.(*corev1.ServiceAccount); ok && sa.Secrets != nil {
					t.Errorf("secrets kept: %v", sa.Secrets)
				}
				checkSummary(t, in, out)
			})
		}
	}
}

// checkSummary checks that a workload became a summary of its kind that
// keeps the pod template's ServiceAccount, and a ServiceAccount stayed one.
func checkSummary(t *testing.T, in, out client.Object) {
	t.Helper()
	kind := workload.KindOf(in)
	s, ok := out.(*workload.Summary)
	switch {
	case kind == "":
		if ok {
			t.Errorf("a %T became a summary", in)
		}
	case !ok:
		t.Errorf("a %s became a %T, want a summary", kind, out)
	case s.Kind != kind || s.ServiceAccount != "orders":
		t.Errorf("summary of kind %q for ServiceAccount %q, want %s and orders", s.Kind, s.ServiceAccount, kind)
	}
}

// TestTransformServiceAccountName: the summary keeps the ServiceAccount the
// pods run as, whichever field names it.
func TestTransformServiceAccountName(t *testing.T) {
	tests := []struct {
		name string
		spec corev1.PodSpec
		want string
	}{
		{"serviceAccountName", corev1.PodSpec{ServiceAccountName: "orders", DeprecatedServiceAccount: "old"}, "orders"},
		{"the deprecated serviceAccount", corev1.PodSpec{DeprecatedServiceAccount: "old"}, "old"},
		{"none: default", corev1.PodSpec{}, "default"},
	}
	for _, tt := range tests {
		for _, in := range workloads(meta(kept), corev1.PodTemplateSpec{Spec: tt.spec}) {
			t.Run(fmt.Sprintf("%s/%T", tt.name, in), func(t *testing.T) {
				out := transform(t, in)
				if got := workload.ServiceAccountName(out); got != tt.want {
					t.Errorf("ServiceAccountName = %q, want %q", got, tt.want)
				}
				if again := transform(t, out); again != out {
					t.Errorf("a summary was transformed again: %+v", again)
				}
			})
		}
	}
}

func TestTransformNamespace(t *testing.T) {
	in := &corev1.Namespace{ObjectMeta: meta(merged(hostile, kept)), Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}}
	out := transform(t, in).(*corev1.Namespace)
	// Policy rules select namespaces by label: labels stay, whatever they are.
	if !maps.Equal(out.Labels, in.Labels) {
		t.Errorf("labels = %v, want %v", out.Labels, in.Labels)
	}
	if out.Annotations != nil || out.Spec.Finalizers != nil || out.ManagedFields != nil {
		t.Errorf("namespace keeps more than its labels and identity: %+v", out)
	}
	if out.Name != "orders" || out.UID != "uid-1" || out.ResourceVersion != "42" || out.DeletionTimestamp == nil {
		t.Errorf("namespace identity lost: %+v", out.ObjectMeta)
	}
}

func TestTransformPassesOtherObjects(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: meta(hostile)}
	for _, f := range []func(any) (any, error){slimWorkload, slimServiceAccount, slimNamespace} {
		if out, err := f(cm); err != nil || out != any(cm) {
			t.Errorf("a ConfigMap was changed: %v, %v", out, err)
		}
	}
}

// abbreviate shortens long values so that a failure stays readable.
func abbreviate(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		if len(v) > 40 {
			v = fmt.Sprintf("%s…(%d bytes)", v[:20], len(v))
		}
		out[k] = v
	}
	return out
}

// The label that marks the ServiceAccounts Keyless created is kept (the
// controller makes their users owners), and no other label, nor that one
// with another value or on a workload.
func TestTransformKeepsTheManagedByLabel(t *testing.T) {
	mine := map[string]string{controller.ManagedByLabel: controller.ManagedByKeyless}
	tests := []struct {
		name string
		in   client.Object
		want map[string]string
	}{
		{"created by Keyless", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "a",
			Labels: merged(mine, map[string]string{"team": strings.Repeat("x", 60)})}}, mine},
		{"managed by someone else", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "a",
			Labels: map[string]string{controller.ManagedByLabel: "helm"}}}, nil},
		{"a workload with the label", &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: mine}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := transform(t, tt.in).GetLabels(); !maps.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("labels %v, want %v", got, tt.want)
			}
		})
	}
}
