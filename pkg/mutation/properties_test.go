package mutation

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// mutator runs one table case's mutation on a document: the patch, the
// errors, and the pod template's JSON pointer ("" for a ServiceAccount).
type mutator func(t *testing.T, doc []byte) (Patch, string, bool)

// propertyCases turns both tables into mutators; cases that are denied are
// left out, since they have no mutated object to reason about.
func propertyCases(t *testing.T) map[string]struct {
	doc       []byte
	mutate    mutator
	immutable bool
} {
	cases := map[string]struct {
		doc       []byte
		mutate    mutator
		immutable bool
	}{}
	for _, tt := range workloadTests {
		if tt.wantErr != "" {
			continue
		}
		opts := tt.opts
		cases["workload/"+tt.name] = struct {
			doc       []byte
			mutate    mutator
			immutable bool
		}{mustJSON(t, tt.obj), func(t *testing.T, doc []byte) (Patch, string, bool) {
			p, _, errs := mutateWorkload(t, doc, opts)
			if len(errs) > 0 {
				t.Errorf("unexpected errors: %v", errs)
			}
			return p, templateBase(generic(t, doc)), len(errs) == 0
		}, opts.TemplateImmutable}
	}
	for _, tt := range serviceAccountTests {
		if tt.wantErr != "" {
			continue
		}
		opts := tt.opts
		cases["serviceaccount/"+tt.name] = struct {
			doc       []byte
			mutate    mutator
			immutable bool
		}{mustJSON(t, tt.obj), func(t *testing.T, doc []byte) (Patch, string, bool) {
			p, errs := mutateServiceAccount(t, doc, opts)
			if len(errs) > 0 {
				t.Errorf("unexpected errors: %v", errs)
			}
			return p, "", len(errs) == 0
		}, false}
	}
	return cases
}

// TestIdempotent: admitting the mutated object again changes nothing.
func TestIdempotent(t *testing.T) {
	for name, c := range propertyCases(t) {
		t.Run(name, func(t *testing.T) {
			p1, base, ok := c.mutate(t, c.doc)
			if !ok {
				return
			}
			checkRemovals(t, c.doc, base, p1)
			mutated := apply(t, c.doc, p1)
			p2, _, ok := c.mutate(t, mutated)
			if ok && len(p2) != 0 {
				t.Errorf("second admission patches again: %s\nafter the first: %s", patchJSON(t, p2), patchJSON(t, p1))
			}
		})
	}
}

// TestRemoval: once every connection annotation is deleted from the
// mutated object, the next admission gives back what the user wrote:
// nothing of theirs is removed, everything Keyless added is gone. Only a
// Job's pod template, which cannot change, keeps what was injected.
func TestRemoval(t *testing.T) {
	for name, c := range propertyCases(t) {
		t.Run(name, func(t *testing.T) {
			p1, _, ok := c.mutate(t, c.doc)
			if !ok {
				return
			}
			stripped := withoutConnections(t, apply(t, c.doc, p1))
			p2, base, ok := c.mutate(t, stripped)
			if !ok {
				return
			}
			checkRemovals(t, stripped, base, p2)
			if c.immutable {
				if len(p2) != 0 {
					t.Errorf("a Job update patches its template: %s", patchJSON(t, p2))
				}
				return
			}
			final := apply(t, stripped, p2)
			if _, ok := annotationsOf(generic(t, final))[annotations.KeyInjected]; ok {
				t.Errorf("keyless.dev/injected is still there after every connection went:\n%s", final)
			}
			// Keyless's finalizer and statuses stay: the controller removes
			// them once the cloud objects are gone.
			if got, want := userPart(t, withoutFinalizer(t, final)), userPart(t, withoutFinalizer(t, c.doc)); !reflect.DeepEqual(got, want) {
				t.Errorf("after removal the object is not the user's:\n got: %s\nwant: %s", show(got), show(want))
			}
			if p3, _, _ := c.mutate(t, final); len(p3) != 0 {
				t.Errorf("admitting the cleaned object patches again: %s", patchJSON(t, p3))
			}
		})
	}
}

// withoutFinalizer drops what the controller owns from doc: Keyless's
// finalizer (and the list if it is left empty) and the status annotations.
func withoutFinalizer(t *testing.T, doc []byte) []byte {
	t.Helper()
	m := generic(t, doc)
	meta, _ := m["metadata"].(map[string]any)
	if a, ok := meta["annotations"].(map[string]any); ok {
		for _, cl := range annotations.Clouds {
			k := cl.StatusKey
			delete(a, k)
		}
		if len(a) == 0 {
			delete(meta, "annotations")
		}
	}
	list, _ := meta["finalizers"].([]any)
	list = slices.DeleteFunc(list, func(f any) bool { return f == annotations.Finalizer })
	if len(list) == 0 {
		delete(meta, "finalizers")
	} else {
		meta["finalizers"] = list
	}
	return mustJSON(t, m)
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
