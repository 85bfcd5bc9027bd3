package mutation

import (
	"slices"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// marks tracks the keyless.dev/injected list while a mutation runs: what was
// injected before, and what stays injected after. Both are sets; the few
// items are kept in slices.
type marks struct {
	before []string
	after  []string
}

func newMarks(annots map[string]string) marks {
	return marks{before: annotations.ParseList(annots[annotations.KeyInjected])}
}

func (m *marks) had(item string) bool { return slices.Contains(m.before, item) }

func (m *marks) keep(item string) {
	if !slices.Contains(m.after, item) {
		m.after = append(m.after, item)
	}
}

// record writes the list into the annotation edit when it changed.
func (m *marks) record(edit *mapEdit) {
	if sameSet(m.before, m.after) {
		return
	}
	if len(m.after) == 0 {
		edit.Remove(annotations.KeyInjected)
		return
	}
	edit.Set(annotations.KeyInjected, annotations.FormatList(m.after))
}

// sameSet reports whether a and b hold the same items, duplicates aside.
func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}
