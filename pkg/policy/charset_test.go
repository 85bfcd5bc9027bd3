package policy

import (
	"strings"
	"testing"
)

// TestPatternCharsets: each end of each character range a pattern may
// hold, and the characters just outside it.
func TestPatternCharsets(t *testing.T) {
	tests := []struct {
		name    string
		field   string // the rule's list
		pattern string
		wantErr string // "" means valid
	}{
		{name: "role: a z A Z 0 9", field: "awsRoles", pattern: "az-AZ-09"},
		{name: "role: z last", field: "awsRoles", pattern: "path/z"},
		{name: "role: Z last", field: "awsRoles", pattern: "Z"},
		{name: "role: 9 last", field: "awsRoles", pattern: "x9"},
		{name: "role: every punctuation", field: "awsRoles", pattern: "a/+=,.@_-"},
		{name: "role ARN: z", field: "awsRoles", pattern: "arn:aws:iam::123456789012:role/z"},
		{name: "role: backquote before a", field: "awsRoles", pattern: "a`", wantErr: "not \"`\""},
		{name: "role: bar past z", field: "awsRoles", pattern: "z|", wantErr: `not "|"`},
		{name: "role: caret past Z", field: "awsRoles", pattern: "Z^", wantErr: `not "^"`},
		{name: "role: colon after 9", field: "awsRoles", pattern: "arn:aws:iam::123456789012:role/9;", wantErr: `not ";"`},

		{name: "role ARN: too few parts", field: "awsRoles", pattern: "arn:aws:iam::role/x", wantErr: "a role ARN pattern has the form"},
		{name: "role ARN: not iam", field: "awsRoles", pattern: "arn:aws:sts::*:role/x", wantErr: "a role ARN pattern has the form"},
		{name: "role ARN: a region", field: "awsRoles", pattern: "arn:aws:iam:us-east-1:*:role/x", wantErr: "a role ARN pattern has the form"},
		{name: "role ARN: not a role", field: "awsRoles", pattern: "arn:aws:iam::*:user/x", wantErr: "a role ARN pattern has the form"},
		{name: "role: the character after a template is checked", field: "awsRoles", pattern: "${namespace}!x", wantErr: `not "!"`},

		{name: "GCP ID: a z 0 9 -", field: "gcpServiceAccounts", pattern: "az-09"},
		{name: "GCP ID: z last", field: "gcpServiceAccounts", pattern: "z"},
		{name: "GCP ID: 9 last", field: "gcpServiceAccounts", pattern: "x9"},
		{name: "GCP ID: backquote before a", field: "gcpServiceAccounts", pattern: "`a", wantErr: "not \"`\""},
		{name: "GCP ID: bar past z", field: "gcpServiceAccounts", pattern: "z|", wantErr: `not "|"`},
		{name: "GCP ID: slash before 0", field: "gcpServiceAccounts", pattern: "0/", wantErr: `not "/"`},
		{name: "GCP ID: colon after 9", field: "gcpServiceAccounts", pattern: "9:", wantErr: `not ":"`},
		{name: "GCP ID: underscore", field: "gcpServiceAccounts", pattern: "a_b", wantErr: `not "_"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := rulesDoc("    - name: r\n      " + tt.field + ": ['" + strings.ReplaceAll(tt.pattern, "'", "''") + "']\n")
			_, err := Parse([]byte(doc))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Parse: %v, want the pattern accepted", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Parse: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestNamespacePatternCharset: namespace names are lower-case letters,
// digits and "-".
func TestNamespacePatternCharset(t *testing.T) {
	tests := []struct {
		pattern string
		valid   bool
	}{
		{"az-09", true}, {"z", true}, {"9", true}, {"a-*", true},
		{"a`", false}, {"z|", false}, {"0/", false}, {"9:", false}, {"A", false}, {"a_b", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			doc := rulesDoc("    - name: r\n      namespaces:\n        names: ['" + tt.pattern + "']\n      awsRoles: ['*']\n")
			_, err := Parse([]byte(doc))
			if (err == nil) != tt.valid {
				t.Errorf("Parse: %v, want valid = %t", err, tt.valid)
			}
			if err != nil && !strings.Contains(err.Error(), "namespace names have only") {
				t.Errorf("Parse: %v, want the namespace charset named", err)
			}
		})
	}
}
