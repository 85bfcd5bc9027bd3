package policy

import (
	"strings"
	"testing"
)

// TestFoldCaseEdges: both ends of the ASCII upper-case range, and a
// continuation byte with no leading byte, which is invalid UTF-8 like any
// other invalid byte.
func TestFoldCaseEdges(t *testing.T) {
	tests := []struct{ a, b string }{
		{"AZ", "az"},
		{"@[", "`{"}, // just outside A-Z and a-z: no case
		{"\x80", "\xfe"},
		{"a\x80", "A\xff"},
	}
	for _, tt := range tests {
		fa, fb := foldCase(tt.a), foldCase(tt.b)
		if (fa == fb) != strings.EqualFold(tt.a, tt.b) {
			t.Errorf("foldCase(%q) = %q, foldCase(%q) = %q; EqualFold = %v", tt.a, fa, tt.b, fb, strings.EqualFold(tt.a, tt.b))
		}
	}
	if got := lowerLiterals("AZ-${namespace}-az"); got != "az-${namespace}-az" {
		t.Errorf("lowerLiterals = %q, want %q", got, "az-${namespace}-az")
	}
}

// TestSelectorExpressionOneErrorEach: a matchExpressions item whose key or
// operator is not a string is reported once, not also as an invalid
// selector.
func TestSelectorExpressionOneErrorEach(t *testing.T) {
	tests := []struct {
		name, expr string
		want       string
	}{
		{name: "key not a string", expr: "{key: [a], operator: In, values: [x]}", want: "spec.rules[0].namespaces.selector.matchExpressions[0].key"},
		{name: "operator not a string", expr: "{key: team, operator: [In], values: [x]}", want: "spec.rules[0].namespaces.selector.matchExpressions[0].operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := rulesDoc("    - name: r\n      namespaces:\n        selector:\n          matchExpressions: [" + tt.expr + "]\n      awsRoles: ['*']\n")
			_, err := Parse([]byte(doc))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if lines := strings.Split(err.Error(), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("Parse: %v\nwant one error, on %s", err, tt.want)
			}
		})
	}
}
