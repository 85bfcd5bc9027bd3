package chart_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/keyless-dev/keyless/deploy/chart"
)

// TestLint runs `helm lint`'s checks with each value set; anything from a
// warning up fails.
func TestLint(t *testing.T) {
	kube, err := common.ParseKubeVersion(chart.KubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range valueSets(t) {
		t.Run(name, func(t *testing.T) {
			l := lint.RunAll(chart.Dir, values, chart.Namespace, lint.WithKubeVersion(kube))
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Error(m)
				} else {
					t.Log(m)
				}
			}
		})
	}
}

// crdKinds are the kinds of the objects the chart makes whose CRDs come from
// other projects; the e2e tests apply them to an API server that has them.
var crdKinds = []schema.GroupKind{
	{Group: "cert-manager.io", Kind: "Issuer"},
	{Group: "cert-manager.io", Kind: "Certificate"},
	{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"},
	{Group: "monitoring.coreos.com", Kind: "PrometheusRule"},
}

// TestObjectsDecodeStrictly decodes every rendered object of a built-in kind
// into its Go type, refusing unknown fields, and checks where it lives.
func TestObjectsDecodeStrictly(t *testing.T) {
	clusterScoped := []string{"Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
	for name, values := range valueSets(t) {
		t.Run(name, func(t *testing.T) {
			for _, u := range render(t, values) {
				gvk := u.GroupVersionKind()
				id := gvk.Kind + "/" + u.GetName()
				switch {
				case slices.Contains(clusterScoped, gvk.Kind) && u.GetNamespace() != "":
					t.Errorf("%s: cluster-scoped but in namespace %q", id, u.GetNamespace())
				case !slices.Contains(clusterScoped, gvk.Kind) && gvk.Kind != "Namespace" && u.GetNamespace() != chart.Namespace:
					t.Errorf("%s: namespace %q, want the release's, %s", id, u.GetNamespace(), chart.Namespace)
				}
				if u.GetLabels()["app.kubernetes.io/name"] != "keyless" {
					t.Errorf("%s: no label app.kubernetes.io/name=keyless", id)
				}
				if slices.Contains(crdKinds, gvk.GroupKind()) {
					continue
				}
				typed, err := scheme.Scheme.New(gvk)
				if err != nil {
					t.Errorf("%s: %v", id, err)
					continue
				}
				raw, _ := yaml.Marshal(u.Object)
				if err := yaml.UnmarshalStrict(raw, typed); err != nil {
					t.Errorf("%s: %v", id, err)
				}
			}
		})
	}
}

// TestTemplatesFollowTheReleaseNamespace: the namespace is never written
// into a template, so a release elsewhere is consistent.
func TestTemplatesFollowTheReleaseNamespace(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chart.Dir, "templates", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), chart.Namespace) {
			t.Errorf("%s names %s; use .Release.Namespace", f, chart.Namespace)
		}
	}
}

// TestSchemaRefusesMistakes: values.schema.json turns a typo or a wrong
// type into an error naming the value, before anything is installed.
func TestSchemaRefusesMistakes(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   string // a regular expression the error matches
	}{
		{"misspelt top-level key", "clusterNmae: prod", `clusterNmae`},
		{"misspelt nested key", "aws: {regoin: eu-west-1}", `regoin`},
		{"account ID as a number", "aws: {accountId: 123456789012}", `/aws/accountId.*(string|number)`},
		{"account ID of 11 digits", `aws: {accountId: "12345678901"}`, `/aws/accountId`},
		{"AWS on without a cluster name", "aws: {region: eu-west-1}", `clusterName`},
		{"Azure on without a cluster name", "azure: {subscriptionId: 00000000-0000-0000-0000-000000000001, oidcIssuerURL: https://a.example/x/}", `clusterName`},
		{"Azure on without an issuer", "{clusterName: c, azure: {subscriptionId: 00000000-0000-0000-0000-000000000001}}", `oidcIssuerURL`},
		{"issuer without its trailing slash", "azure: {oidcIssuerURL: https://a.example/x}", `oidcIssuerURL`},
		{"subscription not a GUID", "azure: {subscriptionId: my-subscription}", `subscriptionId`},
		{"workload pool without .svc.id.goog", "gcp: {workloadPool: my-project}", `workloadPool`},
		{"duration without a unit", "cloudTimeout: '30'", `cloudTimeout`},
		{"duration in words", "resyncPeriod: ten minutes", `resyncPeriod`},
		{"log format", "logging: {format: xml}", `format`},
		{"log level", "logging: {level: verbose}", `level`},
		{"default service account", "defaultServiceAccount: reuse", `defaultServiceAccount`},
		{"workers 0", "workers: 0", `workers`},
		{"qps 0", "gcp: {qps: 0}", `qps`},
		{"restart as a string", `restartWorkloads: "no"`, `restartWorkloads`},
		{"webhook port 0", "webhook: {port: 0}", `port`},
		{"webhook timeout 31", "webhook: {timeoutSeconds: 31}", `timeoutSeconds`},
		{"TLS 1.1", `webhook: {tlsMinVersion: "1.1"}`, `tlsMinVersion`},
		{"digest without sha256:", "image: {digest: abc}", `digest`},
		{"replicas 0", "replicaCount: 0", `replicaCount`},
		{"policy as a map", "policy: {apiVersion: keyless.dev/v1alpha1}", `policy`},
		{"extra arg without --", "extraArgs: [workers=3]", `extraArgs`},
		{"no cert-manager and no CA", "certManager: {enabled: false}", `caBundle`},
		{"misspelt metrics key", "metrics: {serviceMonitor: {enable: true}}", `enable`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var values map[string]any
			if err := yaml.Unmarshal([]byte(tt.values), &values); err != nil {
				t.Fatal(err)
			}
			_, err := chart.Render(values)
			if err == nil {
				t.Fatalf("rendering with %s succeeded, want an error", tt.values)
			}
			if !regexp.MustCompile(tt.want).MatchString(err.Error()) {
				t.Errorf("error %q does not match %q", err, tt.want)
			}
		})
	}
}
