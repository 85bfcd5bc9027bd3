package devenv

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// object decodes one YAML document for a test.
func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDecode(t *testing.T) {
	fsys := fstest.MapFS{
		"examples/b.yaml":     {Data: []byte("kind: Namespace\nmetadata: {name: b1}\n---\n---\nkind: Namespace\nmetadata: {name: b2}\n")},
		"examples/a.yaml":     {Data: []byte("# only a comment\n---\nkind: Namespace\nmetadata: {name: a}\n")},
		"examples/notes.txt":  {Data: []byte("not: [yaml")},
		"top.yaml":            {Data: []byte("kind: Namespace\nmetadata: {name: top}\n")},
		"examples/sub/x.yaml": {Data: []byte("kind: Namespace\nmetadata: {name: nested}\n")},
	}
	objs, err := Decode(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	if want := []string{"a", "b1", "b2"}; !slices.Equal(names, want) {
		t.Errorf("Decode = %q, want %q: the *.yaml files of the folder, by file name, empty documents left out", names, want)
	}
	fsys["examples/c.yaml"] = &fstest.MapFile{Data: []byte("kind: [Namespace\n")}
	if _, err := Decode(fsys); err == nil || !strings.Contains(err.Error(), "decoding examples/c.yaml") {
		t.Errorf("Decode of broken YAML = %v, want an error naming the file", err)
	}
}

const appliedDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders-api
  namespace: orders
  annotations:
    keyless.dev/aws-role: orders-api
spec:
  template:
    metadata:
      labels: {app: orders}
    spec:
      containers: [{name: app, image: app}]
`

func TestDescribeObject(t *testing.T) {
	in := object(t, appliedDeployment)
	changed := in.DeepCopy()
	changed.SetAnnotations(map[string]string{annotations.KeyAWSRole: "orders-api", annotations.KeyInjected: `{"sa":"orders-api"}`,
		"deployment.kubernetes.io/revision": "2"})
	_ = unstructured.SetNestedField(changed.Object, "orders-api", "spec", "template", "spec", "serviceAccountName")
	_ = unstructured.SetNestedStringMap(changed.Object, map[string]string{"iam.gke.io/gke-metadata-server-enabled": "true"},
		"spec", "template", "spec", "nodeSelector")
	_ = unstructured.SetNestedStringMap(changed.Object, map[string]string{"app": "orders", "azure.workload.identity/use": "true"},
		"spec", "template", "metadata", "labels")
	dropped := in.DeepCopy()
	unstructured.RemoveNestedField(dropped.Object, "spec", "template", "metadata", "labels")
	plain := in.DeepCopy()
	plain.SetAnnotations(nil)

	tests := []struct {
		name    string
		in, cur *unstructured.Unstructured
		want    []string
	}{
		{"what Keyless added, the Kubernetes controllers' annotations left out", in, changed, []string{
			"Deployment orders/orders-api:",
			`  + metadata.annotations[keyless.dev/injected]: "{\"sa\":\"orders-api\"}"`,
			`  + spec.template.metadata.labels[azure.workload.identity/use]: "true"`,
			`  + spec.template.spec.nodeSelector[iam.gke.io/gke-metadata-server-enabled]: "true"`,
			`  + spec.template.spec.serviceAccountName: "orders-api"`,
		}},
		{"what went away", in, dropped, []string{"Deployment orders/orders-api:", "  - spec.template.metadata.labels[app]"}},
		{"connected, nothing to add", in, in, []string{"Deployment orders/orders-api: unchanged (nothing to add)"}},
		{"not connected", plain, plain, []string{"Deployment orders/orders-api: unchanged (no keyless.dev connection)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeObject(tt.in, tt.cur); !slices.Equal(got, tt.want) {
				t.Errorf("describeObject =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDescribeCronJob(t *testing.T) {
	in := object(t, `
kind: CronJob
metadata: {name: nightly, namespace: batch}
spec:
  jobTemplate:
    spec:
      template:
        spec: {serviceAccountName: nightly}
`)
	cur := in.DeepCopy()
	_ = unstructured.SetNestedStringMap(cur.Object, map[string]string{"azure.workload.identity/use": "true"},
		"spec", "jobTemplate", "spec", "template", "metadata", "labels")
	want := []string{"CronJob batch/nightly:", `  + spec.jobTemplate.spec.template.metadata.labels[azure.workload.identity/use]: "true"`}
	if got := describeObject(in, cur); !slices.Equal(got, want) {
		t.Errorf("describeObject =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDescribeCreated(t *testing.T) {
	sa := &unstructured.Unstructured{}
	sa.SetKind("ServiceAccount")
	sa.SetNamespace("orders")
	sa.SetName("orders-api")
	sa.SetAnnotations(map[string]string{annotations.KeyAWSRole: "orders-api"})
	empty := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{}}}
	if got, want := describeCreated(sa, empty), []string{
		"ServiceAccount orders/orders-api (created by Keyless):", `  + metadata.annotations[keyless.dev/aws-role]: "orders-api"`,
	}; !slices.Equal(got, want) {
		t.Errorf("describeCreated = %q, want %q", got, want)
	}
	sa.SetOwnerReferences([]metav1.OwnerReference{{Kind: "Deployment", Name: "orders-api"}, {Kind: "CronJob", Name: "nightly"}})
	if got := describeCreated(sa, empty)[0]; got != "ServiceAccount orders/orders-api (created by Keyless for Deployment/orders-api, CronJob/nightly):" {
		t.Errorf("describeCreated heading = %q, want the owners named", got)
	}
}

func TestServiceAccountOf(t *testing.T) {
	tests := []struct {
		doc  string
		want string
	}{
		{"kind: Deployment\nspec: {template: {spec: {serviceAccountName: app}}}", "app"},
		{"kind: StatefulSet\nspec: {template: {spec: {}}}", "default"},
		{"kind: DaemonSet\nspec: {}", "default"},
		{"kind: Job\nspec: {template: {spec: {serviceAccountName: job}}}", "job"},
		{"kind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {serviceAccountName: cron}}}}}", "cron"},
		{"kind: CronJob\nspec: {template: {spec: {serviceAccountName: misplaced}}}", "default"},
		{"kind: Pod\nspec: {serviceAccountName: pod}", ""},
		{"kind: ServiceAccount", ""},
	}
	for _, tt := range tests {
		if got := serviceAccountOf(object(t, tt.doc)); got != tt.want {
			t.Errorf("serviceAccountOf(%s) = %q, want %q", tt.doc, got, tt.want)
		}
	}
}

func TestCloudsSettled(t *testing.T) {
	const gsa = "orders-api@demo-project.iam.gserviceaccount.com"
	state := func(s string) string { return `{"state":"` + s + `","identity":"x"}` }
	tests := []struct {
		name string
		a    map[string]string
		want bool
	}{
		{"no connection", nil, true},
		{"AWS without a status", map[string]string{annotations.KeyAWSRole: "app"}, false},
		{"AWS pending", map[string]string{annotations.KeyAWSRole: "app", annotations.KeyStatusAWS: annotations.PendingStatus("app")}, false},
		{"AWS ready", map[string]string{annotations.KeyAWSRole: "app", annotations.KeyStatusAWS: state("Ready")}, true},
		{"AWS failed", map[string]string{annotations.KeyAWSRole: "app", annotations.KeyStatusAWS: state("Error")}, true},
		{"AWS off in this cluster", map[string]string{annotations.KeyAWSRole: "app", annotations.KeyStatusAWS: state("CloudDisabled")}, true},
		{"GCP ready, AWS pending", map[string]string{annotations.KeyAWSRole: "app", annotations.KeyStatusAWS: annotations.PendingStatus("app"),
			annotations.KeyGCPServiceAccount: gsa, annotations.KeyStatusGCP: state("Ready")}, false},
		{"Azure ready, GCP without a status", map[string]string{annotations.KeyAzureIdentity: "app", annotations.KeyAzureResourceGroup: "rg", annotations.KeyStatusAzure: state("Ready"),
			annotations.KeyGCPServiceAccount: gsa}, false},
		{"all three settled", map[string]string{annotations.KeyAWSRole: "app", annotations.KeyStatusAWS: state("Ready"),
			annotations.KeyAzureIdentity: "app", annotations.KeyAzureResourceGroup: "rg", annotations.KeyStatusAzure: state("Error"),
			annotations.KeyGCPServiceAccount: gsa, annotations.KeyStatusGCP: state("Ready")}, true},
		{"a leftover status of a cloud no longer connected", map[string]string{annotations.KeyStatusAWS: annotations.PendingStatus("old")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cloudsSettled(tt.a); got != tt.want {
				t.Errorf("cloudsSettled = %v, want %v", got, tt.want)
			}
		})
	}
}
