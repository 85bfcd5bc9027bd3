package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/keyless-dev/keyless/deploy"
	"github.com/keyless-dev/keyless/deploy/chart"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// prometheusOperatorModule ships the ServiceMonitor and PrometheusRule CRDs
// under example/prometheus-operator-crd.
const prometheusOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

// previousInstall is the install.yaml of the release before this one, as
// users applied it.
const previousInstall = "testdata/install-previous.yaml"

// applyManager is the field manager of `kubectl apply --server-side`.
const applyManager = "kubectl"

// moduleDir downloads a module through the Go module proxy (or finds it in
// the module cache) and returns its folder.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", module, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s gave no folder: %v %s", module, err, out)
	}
	return mod.Dir
}

// TestChartInstallAndUpgrade applies, server-side and with strict field
// validation, to an API server with cert-manager's and the Prometheus
// Operator's CRDs: the previous release's install.yaml, then this one's
// (an upgrade, checked for lost and duplicated objects), then the chart
// rendered with its defaults and with every ci/ values file (every cloud
// on, the ServiceMonitor, PrometheusRule and dashboard; no cert-manager).
func TestChartInstallAndUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second control plane")
	}
	monitoring := filepath.Join(moduleDir(t, prometheusOperatorModule), "example", "prometheus-operator-crd")
	own := &envtest.Environment{
		BinaryAssetsDirectory: assetsDir(),
		CRDInstallOptions: envtest.CRDInstallOptions{ErrorIfPathMissing: true, Paths: []string{
			certManagerCRDs(t),
			filepath.Join(monitoring, "monitoring.coreos.com_servicemonitors.yaml"),
			filepath.Join(monitoring, "monitoring.coreos.com_prometheusrules.yaml"),
		}},
	}
	cfg, err := own.Start()
	if err != nil {
		t.Fatalf("starting a control plane: %v", err)
	}
	t.Cleanup(func() { _ = own.Stop() })
	c := newClient(t, cfg)
	ctx := context.Background()

	previous, err := os.ReadFile(previousInstall)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("upgrade from the previous install.yaml", func(t *testing.T) {
		applyAll(t, c, decodeManifest(t, previous))
		// Keyless's own records, made at run time, must survive too.
		record := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: chart.Namespace, Name: "keyless-record-test",
			Labels: map[string]string{"keyless.dev/record": "cloud-object"}}}
		if err := c.Create(ctx, record); err != nil {
			t.Fatal(err)
		}

		current := decodeManifest(t, deploy.Install)
		applyAll(t, c, current)
		checkOwned(t, c, current, decodeManifest(t, previous))
		if err := c.Get(ctx, client.ObjectKeyFromObject(record), record); err != nil {
			t.Errorf("Keyless's record did not survive the upgrade: %v", err)
		}
	})

	sets := map[string]map[string]any{"defaults": nil}
	files, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "chart", chart.Dir, "ci", "*-values.yaml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var values map[string]any
		if err := yaml.Unmarshal(raw, &values); err != nil {
			t.Fatal(err)
		}
		sets[filepath.Base(f)] = values
	}
	if len(sets) < 3 {
		t.Fatalf("value sets %v, want the defaults and the ci/ files", sets)
	}
	for name, values := range sets {
		t.Run("chart with "+name, func(t *testing.T) {
			out, err := chart.Render(values)
			if err != nil {
				t.Fatal(err)
			}
			applyAll(t, c, decodeManifest(t, []byte(out)))
		})
	}
}

func decodeManifest(t *testing.T, manifest []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := devenv.DecodeBytes(manifest)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// applyAll applies every object as `kubectl apply --server-side` does, with
// strict field validation, and fails on any rejection.
func applyAll(t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		o := o.DeepCopy()
		// Patch with client.Apply rather than Client.Apply, whose options have no field validation.
		if err := c.Patch(context.Background(), o, client.Apply, client.FieldOwner(applyManager), //nolint:staticcheck // see the comment above
			client.ForceOwnership, client.FieldValidation("Strict")); err != nil {
			t.Errorf("server-side apply of %s %s/%s was rejected: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}

type objectKey struct{ kind, namespace, name string }

func keyOf(u *unstructured.Unstructured) objectKey {
	return objectKey{u.GetKind(), u.GetNamespace(), u.GetName()}
}

// checkOwned compares what the cluster holds after an upgrade with what the
// new release renders: every object is there, as rendered, and there is no
// object labelled as Keyless's that the new release does not render.
func checkOwned(t *testing.T, c client.Client, current, previous []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	want := map[objectKey]*unstructured.Unstructured{}
	kinds := map[schema.GroupVersionKind]bool{}
	for _, u := range current {
		want[keyOf(u)] = u
		kinds[u.GroupVersionKind()] = true
	}
	for _, u := range previous {
		if want[keyOf(u)] == nil {
			t.Errorf("the previous release made %v, which this one does not: kubectl apply leaves it behind", keyOf(u))
		}
	}
	for gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, client.MatchingLabels{"app.kubernetes.io/name": "keyless"}); err != nil {
			t.Fatalf("listing %s: %v", gvk.Kind, err)
		}
		for i := range list.Items {
			if want[keyOf(&list.Items[i])] == nil {
				t.Errorf("the cluster has %v, labelled as Keyless's, which the release does not render", keyOf(&list.Items[i]))
			}
		}
	}
	for k, u := range want {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(u.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKey{Namespace: k.namespace, Name: k.name}, got); err != nil {
			t.Errorf("%v is gone after the upgrade: %v", k, err)
			continue
		}
		for key, value := range u.GetLabels() {
			if got.GetLabels()[key] != value {
				t.Errorf("%v: label %s=%q, want %q", k, key, got.GetLabels()[key], value)
			}
		}
		// Lists merged by key (webhooks by name, containers by name, ...)
		// keep an entry the new release dropped or renamed; compare them.
		for _, path := range [][]string{{"webhooks"}, {"spec", "template", "spec", "containers"}, {"spec", "validations"},
			{"spec", "ingress"}, {"rules"}, {"subjects"}, {"spec", "template", "spec", "volumes"}} {
			w, _, _ := unstructured.NestedSlice(u.Object, path...)
			g, _, _ := unstructured.NestedSlice(got.Object, path...)
			if len(w) != len(g) {
				t.Errorf("%v: %v has %d entries, want %d", k, path, len(g), len(w))
			}
		}
		if k.kind == "Deployment" {
			args := func(o *unstructured.Unstructured) []string {
				cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				a, _, _ := unstructured.NestedStringSlice(cs[0].(map[string]any), "args")
				return a
			}
			if !slices.Equal(args(got), args(u)) {
				t.Errorf("Deployment args %q, want %q", args(got), args(u))
			}
		}
		if k.kind == "ConfigMap" {
			wd, _, _ := unstructured.NestedStringMap(u.Object, "data")
			gd, _, _ := unstructured.NestedStringMap(got.Object, "data")
			if len(wd) != len(gd) || wd["policy.yaml"] != gd["policy.yaml"] {
				t.Errorf("%v: data %v, want %v", k, gd, wd)
			}
		}
	}
}
