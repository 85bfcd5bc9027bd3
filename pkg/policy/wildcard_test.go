package policy

import "testing"

// TestMatchStarThenOne: "?" after "*" still needs a character of its own;
// only a second "*" is merged into the first.
func TestMatchStarThenOne(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"*?", "", false},
		{"*?", "a", true},
		{"a*?", "a", false},
		{"a*?", "ab", true},
		{"*??", "a", false},
		{"*??", "ab", true},
		{"?*", "", false},
		{"a**?", "a", false},
		{"a**?", "ab", true},
	}
	for _, tt := range tests {
		if got := match(tt.pat, tt.s, nil, false); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
}
