package chart_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/keyless-dev/keyless/deploy/chart"
)

// valueSets are the values the tests render with: the defaults, and each
// file of the chart's ci/ folder.
func valueSets(t *testing.T) map[string]map[string]any {
	t.Helper()
	sets := map[string]map[string]any{"defaults": nil}
	files, err := filepath.Glob(filepath.Join(chart.Dir, "ci", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ci/*-values.yaml: %v", err)
	}
	for _, f := range files {
		sets[filepath.Base(f)] = readValues(t, f)
	}
	return sets
}

func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// render renders the chart and decodes every object.
func render(t *testing.T, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	out, err := chart.Render(values)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return decode(t, out)
}

func decode(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader([]byte(manifest))))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// find returns the object of that kind and name, or fails.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return nil
}

// With restarts off Keyless patches no workload, so it is not allowed to.
func TestNoWorkloadPatchWithoutRestarts(t *testing.T) {
	patches := func(values map[string]any) []string {
		role := find(t, render(t, values), "ClusterRole", "keyless")
		rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
		var out []string
		for _, r := range rules {
			rule := r.(map[string]any)
			resources, _, _ := unstructured.NestedStringSlice(rule, "resources")
			verbs, _, _ := unstructured.NestedStringSlice(rule, "verbs")
			for _, v := range verbs {
				if v == "patch" && resources[0] != "serviceaccounts" && resources[0] != "events" {
					out = append(out, resources...)
				}
			}
		}
		return out
	}
	if got := patches(nil); len(got) != 4 {
		t.Errorf("default: patch on %v, want the four workload kinds Keyless restarts", got)
	}
	if got := patches(map[string]any{"restartWorkloads": false}); len(got) != 0 {
		t.Errorf("restartWorkloads false: patch on %v, want none", got)
	}
	if got := patches(map[string]any{"restartWorkloads": true}); len(got) != 4 {
		t.Errorf("restartWorkloads true: patch on %v, want the four workload kinds", got)
	}
}
