package policy

import (
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pat, s string
		fold   bool
		want   bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"*", "anything/at:all", false, true},
		{"a*", "a", false, true},
		{"a*c", "abbbc", false, true},
		{"a*c", "abbbd", false, false},
		{"a*b*c", "axxbyyc", false, true},
		{"a*b*c", "axxbyy", false, false},
		{"*-*-*", "a-b-c", false, true},
		{"?", "é", false, true}, // one character, two bytes
		{"??", "é", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"**", "x", false, true},
		{"ABC", "abc", false, false},
		{"ABC", "abc", true, true},
		{"a${namespace}", "a${namespace}", false, true}, // no vars: literal
	}
	for _, tt := range tests {
		if got := match(tt.pat, tt.s, nil, tt.fold); got != tt.want {
			t.Errorf("match(%q, %q, fold %v) = %v, want %v", tt.pat, tt.s, tt.fold, got, tt.want)
		}
	}
}

// TestMatchTemplateValuesAreLiteral: a "*" in a value does not act as a
// wildcard.
func TestMatchTemplateValuesAreLiteral(t *testing.T) {
	v := &vars{namespace: "*", serviceAccount: "?"}
	if match("${namespace}", "orders", v, false) || match("x${serviceAccount}", "xy", v, false) {
		t.Errorf("template values acted as wildcards")
	}
	if !match("${namespace}-${serviceAccount}", "*-?", v, false) {
		t.Errorf("template values did not match themselves")
	}
}

// TestMatchAWSNames: the last segment of a pattern matches the role name
// alone; a "*" before it may span path segments.
func TestMatchAWSNames(t *testing.T) {
	v := &vars{namespace: "orders"}
	tests := []struct {
		pat, role string
		want      bool
	}{
		{"${namespace}-*", "orders-api", true},
		{"${namespace}-*", "team/orders-api", false},
		{"${namespace}-*", "orders-x/payments", false},
		{"*", "team/orders-api", false},
		{"*/*", "team/orders-api", true},
		{"*/*", "a/b/orders-api", true},
		{"*/*", "orders-api", false},
		{"team/*", "team/x", true},
		{"team/*", "team/sub/x", false},
		{"team/*/*", "team/sub/x", true},
		{"team-*/${namespace}", "team-a/b/orders", true},
	}
	for _, tt := range tests {
		path, name := "/", tt.role
		if i := lastSlash(tt.role); i >= 0 {
			path, name = "/"+tt.role[:i+1], tt.role[i+1:]
		}
		r := &annotations.AWSRole{Path: path, Name: name}
		if got := matchAWS(tt.pat, r, v); got != tt.want {
			t.Errorf("matchAWS(%q, %q) = %v, want %v", tt.pat, tt.role, got, tt.want)
		}
	}
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

func TestMatchAzureAndGCPSegments(t *testing.T) {
	v := &vars{namespace: "orders"}
	if matchAzure("*/${namespace}-*", "s", "orders-rg", "x", v) {
		t.Errorf("an Azure pattern of two parts matched")
	}
	if !matchAzure("*/*/${namespace}-*", "", "rg", "orders-x", v) {
		t.Errorf("\"*\" did not match an empty subscription")
	}
	if matchGCP("${namespace}-*", "orders-x@p", v) || !matchGCP("${namespace}-*@*", "orders-x@p", v) {
		t.Errorf("\"*\" spanned the \"@\" of an email")
	}
	if matchGCP("*@p", "a@q", v) {
		t.Errorf("GCP domain did not have to match")
	}
}
