package annotations

import "testing"

// TestEditDistance: insertions, deletions, substitutions and adjacent
// transpositions each cost one (optimal string alignment).
func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"abc", "abc", 0},
		{"abc", "abd", 1},
		{"abc", "xbc", 1},
		{"abc", "abcd", 1},
		{"abcd", "abc", 1},
		{"ab", "ba", 1},
		{"abcd", "acbd", 1},
		{"abcd", "abdc", 1},
		{"abc", "bca", 2},
		{"ca", "abc", 3}, // optimal string alignment: no edit of a transposed pair
		{"kitten", "sitting", 3},
		{"aws-role", "aws-rloe", 1},
	}
	for _, tt := range tests {
		if got := EditDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
