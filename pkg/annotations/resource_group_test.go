package annotations

import (
	"strings"
	"testing"
)

// TestResourceGroupLength: 1 to 90 characters, both ends included.
func TestResourceGroupLength(t *testing.T) {
	tests := []struct {
		rg    string
		valid bool
	}{
		{"r", true},
		{strings.Repeat("r", 90), true},
		{strings.Repeat("r", 91), false},
		{"é", true},
	}
	for _, tt := range tests {
		_, errs := Parse(map[string]string{KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: tt.rg}, Options{})
		if (len(errs) == 0) != tt.valid {
			t.Errorf("resource group of %d characters: %v, want valid = %t", len([]rune(tt.rg)), errs, tt.valid)
		}
	}
}
