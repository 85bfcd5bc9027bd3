package annotations

import (
	"slices"
	"strings"
)

// ParseList splits a comma-separated bookkeeping value (Injected,
// Propagated) into its items, ignoring blanks.
func ParseList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// FormatList joins items sorted and without duplicates, the inverse of ParseList.
func FormatList(items []string) string {
	s := slices.Clone(items)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}
