package policy

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// posError is one problem at one place of the document.
type posError struct {
	file         string
	line, column int // 1-based; 0 when unknown
	field        string
	err          error
}

func (e *posError) Error() string {
	var b strings.Builder
	b.WriteString(e.file)
	if e.line > 0 {
		b.WriteString(":" + strconv.Itoa(e.line))
		if e.column > 0 {
			b.WriteString(":" + strconv.Itoa(e.column))
		}
	}
	b.WriteString(": ")
	if e.field != "" {
		b.WriteString(e.field + ": ")
	}
	b.WriteString(e.err.Error())
	return b.String()
}

func (e *posError) Unwrap() error { return e.err }

// joinSorted joins the errors in document order, so that the first line of
// the message is the first problem in the file.
func joinSorted(errs []*posError) error {
	slices.SortStableFunc(errs, func(a, b *posError) int {
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.column, b.column))
	})
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// suggest returns the known name closest to typed, or "" if none is close:
// differing in case only, or by at most two edits.
func suggest(typed string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(typed, k) {
			return k
		}
		if d := editDistance(strings.ToLower(typed), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance stays cheap for input that cannot be a typo of a field name.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	return annotations.EditDistance(a, b)
}

// quoteList quotes and joins strings for messages: "a", "b", "c".
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
