package yamlpos

import (
	"strings"
	"testing"
)

// TestPositionSearchBound: an input of exactly MaxSearch bytes is searched,
// one byte more is not.
func TestPositionSearchBound(t *testing.T) {
	const head, tail = "a: 1\n#", "\nb: : c\n"
	tests := []struct {
		size      int
		wantFound bool
	}{
		{size: MaxSearch, wantFound: true},
		{size: MaxSearch + 1},
	}
	for _, tt := range tests {
		doc := head + strings.Repeat("x", tt.size-len(head)-len(tail)) + tail
		line, col := Position([]byte(doc), "mapping values are not allowed in this context")
		if found := line > 0; found != tt.wantFound || (found && (line != 3 || col != 4)) {
			t.Errorf("%d bytes: Position = %d:%d, want found = %t (at 3:4)", tt.size, line, col, tt.wantFound)
		}
	}
}
