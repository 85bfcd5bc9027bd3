package policy

import (
	"strings"
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
	tests := []struct {
		name        string
		pat         string
		sub, rg, id string
		want        bool
	}{
		{"two parts, another subscription", "*/${namespace}-*", "s", "orders-rg", "orders-x", false},
		{"two parts, the cluster's subscription", "*/${namespace}-*", testSub, "rg", "orders-x", true},
		{"two parts, no subscription named", "*/${namespace}-*", "", "rg", "orders-x", true},
		{"\"*\" matches an empty subscription", "*/*/${namespace}-*", "", "rg", "orders-x", true},
		{"the name matches wholly", "*/${namespace}", testSub, "rg", "orders-x", false},
		{"one part", "${namespace}", testSub, "rg", "orders", false},
		{"Unicode case", "*/RG-É/${namespace}", testSub, "rg-é", "ORDERS", true},
		{"Unicode case, other letter", "*/rg-é/*", testSub, "rg-e", "x", false},
		{"Kelvin sign folds to k", "*/rg-k/*", testSub, "rg-\u212a", "x", true},
		{"dotted capital I does not fold to i", "*/rg-i/*", testSub, "rg-\u0130", "x", false},
		{"\"?\" is one folded character", "*/rg-?/*", testSub, "RG-É", "x", true},
	}
	for _, tt := range tests {
		if got := matchAzure(tt.pat, tt.sub, tt.rg, tt.id, v); got != tt.want {
			t.Errorf("%s: matchAzure(%q, %q/%q/%q) = %v, want %v", tt.name, tt.pat, tt.sub, tt.rg, tt.id, got, tt.want)
		}
	}
	gcp := []struct {
		pat, email string
		want       bool
	}{
		{"${namespace}-*", "orders-x@my-project.iam.gserviceaccount.com", true},
		{"${namespace}-*", "orders-x@other-project.iam.gserviceaccount.com", false},
		{"${namespace}-*@*", "orders-x@p", true},
		{"*@p", "a@q", false},
		{"*", "a@b", false}, // an ID pattern never matches across the "@"
	}
	for _, tt := range gcp {
		if got := matchGCP(tt.pat, tt.email, v); got != tt.want {
			t.Errorf("matchGCP(%q, %q) = %v, want %v", tt.pat, tt.email, got, tt.want)
		}
	}
}

// TestFoldCase: one representative per class of strings.EqualFold.
func TestFoldCase(t *testing.T) {
	tests := []struct{ a, b string }{
		{"rg-é", "RG-É"},
		{"ORDERS", "orders"},
		{"k", "\u212a"},  // Kelvin sign
		{"s", "\u017f"},  // long s
		{"ǆ", "ǅ"},       // title case
		{"i", "\u0130"},  // not EqualFold: stays apart
		{"ß", "ss"},      // full folding only: stays apart
		{"\xff", "\xfe"}, // invalid bytes are all U+FFFD, as for EqualFold
		{"Σ", "ς"},
	}
	for _, tt := range tests {
		fa, fb := foldCase(tt.a), foldCase(tt.b)
		if (fa == fb) != strings.EqualFold(tt.a, tt.b) {
			t.Errorf("foldCase(%q) = %q, foldCase(%q) = %q; EqualFold = %v", tt.a, fa, tt.b, fb, strings.EqualFold(tt.a, tt.b))
		}
	}
	if got := foldCase("RG-É"); got != "rg-é" {
		t.Errorf("foldCase(RG-É) = %q, want the lower case", got)
	}
}

// FuzzFoldCase: foldCase agrees with strings.EqualFold and is idempotent.
func FuzzFoldCase(f *testing.F) {
	for _, s := range [][2]string{{"rg-é", "RG-É"}, {"k", "\u212a"}, {"i", "\u0130"}, {"\xff", "\xfe"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		fa, fb := foldCase(a), foldCase(b)
		if (fa == fb) != strings.EqualFold(a, b) {
			t.Errorf("foldCase(%q) = %q, foldCase(%q) = %q; EqualFold = %v", a, fa, b, fb, strings.EqualFold(a, b))
		}
		if foldCase(fa) != fa {
			t.Errorf("foldCase(%q) = %q, folded again %q", a, fa, foldCase(fa))
		}
	})
}
