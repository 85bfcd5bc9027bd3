package devenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Decode reads every YAML document of the *.yaml files in fsys, in file-name order.
func Decode(fsys fs.FS) ([]*unstructured.Unstructured, error) {
	files, err := fs.Glob(fsys, "*/*.yaml")
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		more, err := DecodeBytes(raw)
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", f, err)
		}
		objs = append(objs, more...)
	}
	return objs, nil
}

// DecodeBytes reads every document of a multi-document YAML stream.
func DecodeBytes(raw []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// Apply creates the objects, in order, through the API server (and so the webhook).
func Apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if err := c.Create(ctx, o.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// WaitForServiceAccounts waits until the ServiceAccount of every connected
// workload among objs exists with its connection annotations.
func WaitForServiceAccounts(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, in := range objs {
		if serviceAccountOf(in) == "" || !hasConnection(in.GetAnnotations()) {
			continue
		}
		o := &unstructured.Unstructured{}
		o.SetGroupVersionKind(in.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(in), o); err != nil {
			return fmt.Errorf("reading %s %s: %w", in.GetKind(), in.GetName(), err)
		}
		sa := serviceAccountOf(o)
		for {
			got := &corev1.ServiceAccount{}
			err := c.Get(ctx, types.NamespacedName{Namespace: o.GetNamespace(), Name: sa}, got)
			if err == nil && got.Annotations[annotations.KeyPropagated] != "" && cloudsSettled(got.Annotations) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("ServiceAccount %s/%s of %s %s did not get its connection within %s",
					o.GetNamespace(), sa, o.GetKind(), o.GetName(), timeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// Describe lists, per applied object, what Keyless changed in the cluster:
// the fields it set on workloads and ServiceAccounts, and the ServiceAccounts
// it created.
func Describe(ctx context.Context, c client.Client, applied []*unstructured.Unstructured) ([]string, error) {
	var lines []string
	seen := map[string]bool{}
	for _, in := range applied {
		if in.GetNamespace() == "" {
			continue
		}
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(in.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(in), cur); err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", in.GetKind(), in.GetName(), err)
		}
		seen[in.GetKind()+"/"+in.GetName()] = true
		lines = append(lines, describeObject(in, cur)...)
		if sa := serviceAccountOf(cur); sa != "" && hasConnection(cur.GetAnnotations()) && !seen["ServiceAccount/"+sa] {
			seen["ServiceAccount/"+sa] = true
			got := &unstructured.Unstructured{}
			got.SetAPIVersion("v1")
			got.SetKind("ServiceAccount")
			if err := c.Get(ctx, types.NamespacedName{Namespace: in.GetNamespace(), Name: sa}, got); err != nil {
				return nil, fmt.Errorf("reading ServiceAccount %s: %w", sa, err)
			}
			created := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{}}}
			lines = append(lines, describeCreated(got, created)...)
		}
	}
	return lines, nil
}

func describeObject(in, cur *unstructured.Unstructured) []string {
	head := fmt.Sprintf("%s %s/%s", cur.GetKind(), cur.GetNamespace(), cur.GetName())
	changes := diff(fields(in), fields(cur))
	if len(changes) == 0 {
		reason := "no keyless.dev connection"
		if hasConnection(in.GetAnnotations()) {
			reason = "nothing to add"
		}
		return []string{head + ": unchanged (" + reason + ")"}
	}
	return append([]string{head + ":"}, changes...)
}

func describeCreated(got, before *unstructured.Unstructured) []string {
	head := fmt.Sprintf("ServiceAccount %s/%s (created by Keyless", got.GetNamespace(), got.GetName())
	var owners []string
	for _, o := range got.GetOwnerReferences() {
		owners = append(owners, o.Kind+"/"+o.Name)
	}
	if len(owners) > 0 {
		head += " for " + strings.Join(owners, ", ")
	}
	return append([]string{head + "):"}, diff(fields(before), fields(got))...)
}

// fields flattens what Keyless may change into path → value.
func fields(u *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for k, v := range u.GetAnnotations() {
		if domain, _, _ := strings.Cut(k, "/"); strings.HasSuffix(domain, "kubernetes.io") {
			continue // the Kubernetes controllers' own, such as a Deployment's revision
		}
		out["metadata.annotations["+k+"]"] = v
	}
	base := []string{"spec", "template"}
	if u.GetKind() == "CronJob" {
		base = []string{"spec", "jobTemplate", "spec", "template"}
	}
	prefix := strings.Join(base, ".")
	if m, ok, _ := unstructured.NestedStringMap(u.Object, append(base, "metadata", "labels")...); ok {
		for k, v := range m {
			out[prefix+".metadata.labels["+k+"]"] = v
		}
	}
	if m, ok, _ := unstructured.NestedStringMap(u.Object, append(base, "spec", "nodeSelector")...); ok {
		for k, v := range m {
			out[prefix+".spec.nodeSelector["+k+"]"] = v
		}
	}
	if s, ok, _ := unstructured.NestedString(u.Object, append(base, "spec", "serviceAccountName")...); ok {
		out[prefix+".spec.serviceAccountName"] = s
	}
	return out
}

func diff(before, after map[string]string) []string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if v, ok := before[k]; !ok || v != after[k] {
			lines = append(lines, fmt.Sprintf("  + %s: %q", k, after[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[k]; !ok {
			lines = append(lines, fmt.Sprintf("  - %s", k))
		}
	}
	return lines
}

func serviceAccountOf(u *unstructured.Unstructured) string {
	base := []string{"spec", "template"}
	switch u.GetKind() {
	case "CronJob":
		base = []string{"spec", "jobTemplate", "spec", "template"}
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
	default:
		return ""
	}
	s, _, _ := unstructured.NestedString(u.Object, append(base, "spec", "serviceAccountName")...)
	if s == "" {
		return "default"
	}
	return s
}

func hasConnection(a map[string]string) bool {
	for _, k := range annotations.UserKeys() {
		if _, ok := a[k]; ok {
			return true
		}
	}
	return false
}

// cloudsSettled reports whether every connection has a status other than
// a pending first attempt.
func cloudsSettled(a map[string]string) bool {
	conns, _ := annotations.Parse(a, annotations.Options{})
	for _, c := range annotations.Clouds {
		if !c.Has(conns) {
			continue
		}
		switch st := annotations.ReadStatus(a, c.StatusKey); {
		case st == nil, st.State != annotations.StateReady && st.State != annotations.StateError && st.State != annotations.StateDisabled:
			return false
		}
	}
	return true
}
