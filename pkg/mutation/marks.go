package mutation

import (
	"maps"
	"slices"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// marks tracks the keyless.dev/injected list while a mutation runs: what was
// injected before, and what stays injected after.
type marks struct {
	before map[string]bool
	after  map[string]bool
}

func newMarks(annots map[string]string) *marks {
	m := &marks{before: map[string]bool{}, after: map[string]bool{}}
	for _, item := range annotations.ParseList(annots[annotations.KeyInjected]) {
		m.before[item] = true
	}
	return m
}

func (m *marks) had(item string) bool { return m.before[item] }
func (m *marks) keep(item string)     { m.after[item] = true }

// record writes the list into the annotation edit when it changed.
func (m *marks) record(edit *mapEdit) {
	if maps.Equal(m.before, m.after) {
		return
	}
	if len(m.after) == 0 {
		edit.Remove(annotations.KeyInjected)
		return
	}
	edit.Set(annotations.KeyInjected, annotations.FormatList(slices.Collect(maps.Keys(m.after))))
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
