package mutation

import (
	"reflect"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// FuzzForWorkload checks the properties of TestIdempotent and TestRemoval
// on workloads put together from fuzzed choices: which connections, what
// the template already holds, what keyless.dev/injected records (only
// what Keyless could have written), and the options.
func FuzzForWorkload(f *testing.F) {
	for _, seed := range []uint32{0, 0b111, 0b111 | 1<<3, 0b010 | 2<<5 | 1<<7, 0b100 | 3<<9 | 1<<14, 1<<17 | 0b001} {
		f.Add(seed)
	}
	f.Fuzz(checkWorkloadCombination)
}

// checkWorkloadCombination is FuzzForWorkload's check of one combination.
func checkWorkloadCombination(t *testing.T, bits uint32) {
	take := func(n uint) uint32 { v := bits & (1<<n - 1); bits >>= n; return v }
	conns, sa, lbl, sel, rec := take(3), take(2), take(2), take(2), take(3)
	deny, gke, immutable, cron, gen := take(1) == 1, take(1) == 1, take(1) == 1, take(1) == 1, take(1) == 1

	var parts []part
	for i, p := range []func() part{aws, azure, gcp} {
		if conns&(1<<i) != 0 {
			parts = append(parts, p())
		}
	}
	name := "orders"
	if gen {
		parts = append(parts, generateName("orders-"))
	}
	var marks []string
	switch sa {
	case 1:
		parts = append(parts, runsAsBoth("default"))
	case 2:
		parts = append(parts, runsAsBoth(name))
		if rec&1 != 0 {
			marks = append(marks, annotations.InjectedServiceAccountName)
		}
	case 3:
		parts = append(parts, runsAs("shared"))
	}
	switch lbl {
	case 1:
		parts = append(parts, labels())
	case 2, 3:
		parts = append(parts, labels(annotations.AzureUseLabel, map[uint32]string{2: "true", 3: "false"}[lbl]))
		if lbl == 2 && rec&2 != 0 {
			marks = append(marks, annotations.InjectedAzureUseLabel)
		}
	}
	switch sel {
	case 1:
		parts = append(parts, nodeSelector("disktype", "ssd"))
	case 2, 3:
		parts = append(parts, nodeSelector(annotations.GKEMetadataServerNodeSelector, map[uint32]string{2: "true", 3: "false"}[sel]))
		if sel == 2 && rec&4 != 0 {
			marks = append(marks, annotations.InjectedGKENodeSelector)
		}
	}
	if len(marks) > 0 {
		parts = append(parts, injected(marks...))
	}
	var obj any
	if cron {
		obj = cronJob(name, parts...)
	} else {
		obj = deployment(name, parts...)
	}
	opts := WorkloadOptions{DenyDefaultServiceAccount: deny, GKENodeSelector: gke, TemplateImmutable: immutable}
	doc := mustJSON(t, obj)
	base := templateBase(generic(t, doc))

	p1, _, errs := mutateWorkload(t, doc, opts)
	if len(errs) > 0 {
		if p1 != nil {
			t.Fatalf("a patch with errors: %v", errs)
		}
		return
	}
	checkRemovals(t, doc, base, p1)
	mutated := apply(t, doc, p1)
	if p2, _, errs := mutateWorkload(t, mutated, opts); len(errs) > 0 || len(p2) > 0 {
		t.Fatalf("not idempotent: second admission gives %v %v\nfirst patch: %s\nobject: %s", patchJSON(t, p2), errs,
			patchJSON(t, p1), doc)
	}

	stripped := withoutConnections(t, mutated)
	p3, _, errs := mutateWorkload(t, stripped, opts)
	if len(errs) > 0 {
		t.Fatalf("removing the connections is denied: %v", errs)
	}
	checkRemovals(t, stripped, base, p3)
	if immutable {
		if len(p3) > 0 {
			t.Fatalf("a Job update patches its template: %s", patchJSON(t, p3))
		}
		return
	}
	final := apply(t, stripped, p3)
	if got, want := userPart(t, final), userPart(t, doc); !reflect.DeepEqual(got, want) {
		t.Fatalf("after removal the object is not the user's:\n got: %s\nwant: %s\npatches: %s then %s", show(got), show(want),
			patchJSON(t, p1), patchJSON(t, p3))
	}
}
