package policy

import (
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/internal/yamlpos"
)

// TestSyntaxErrorPosition: the position of a YAML mistake, also on a last
// line without a newline and in one-line input.
func TestSyntaxErrorPosition(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{name: "bad indentation on the last line, no newline",
			doc:  header + "spec:\n  rules:\n    - name: a\n      mode: warn\n     awsRoles: []",
			want: `policy.yaml:7:6: not valid YAML: did not find expected '-' indicator`},
		{name: "unclosed flow list on the last line, no newline", doc: header + "spec:\n  rules: [",
			want: `policy.yaml:4:10: not valid YAML: did not find expected node content`},
		{name: "unclosed quote on the last line, no newline", doc: header + "spec:\n  rules: []\n  x: 'abc",
			want: `policy.yaml:5:6: not valid YAML: found unexpected end of stream`},
		{name: "one line, no newline", doc: "a: b: c",
			want: `policy.yaml:1:5: not valid YAML: mapping values are not allowed in this context`},
		{name: "one line with a newline", doc: "a: b: c\n",
			want: `policy.yaml:1:5: not valid YAML: mapping values are not allowed in this context`},
		{name: "one character", doc: "[",
			want: `policy.yaml:1:1: not valid YAML: did not find expected node content`},
		{name: "tab on the last line, no newline", doc: header + "spec:\n\trules: []",
			want: `policy.yaml:4:1: not valid YAML: found character that cannot start any token (YAML does not allow tabs for indentation; use spaces)`},
		{name: "tab in one line", doc: "\tspec: x",
			want: `policy.yaml:1:1: not valid YAML: found character that cannot start any token (YAML does not allow tabs for indentation; use spaces)`},
		{name: "second line, no newline", doc: "x: 1\n  y: 2",
			want: `policy.yaml:2:4: not valid YAML: mapping values are not allowed in this context`},
		{name: "a tab elsewhere is not the mistake", doc: "x: 1 # \tcomment\n  y: 2\n",
			want: `policy.yaml:2:3: not valid YAML: did not find expected key`},
		{name: "multi-byte characters before the mistake", doc: "é: ü: c",
			want: `policy.yaml:1:5: not valid YAML: mapping values are not allowed in this context`},
		{name: "the largest searched size: line and column",
			doc:  "x: 1\n#" + strings.Repeat("x", yamlpos.MaxSearch-len("x: 1\n#\n  y: 2\n")) + "\n  y: 2\n",
			want: `policy.yaml:3:3: not valid YAML: did not find expected key`},
		{name: "one byte more: the line only",
			doc:  "x: 1\n#" + strings.Repeat("x", yamlpos.MaxSearch+1-len("x: 1\n#\n  y: 2\n")) + "\n  y: 2\n",
			want: `policy.yaml:2: not valid YAML: did not find expected key`},
		{name: "beyond the searched size: the line only",
			doc:  header + "spec:\n  rules: []\n#" + strings.Repeat("x", yamlpos.MaxSearch) + "\n  x: [\n",
			want: `policy.yaml:6: not valid YAML: did not find expected node content`},
		{name: "beyond the searched size, invalid UTF-8",
			doc:  header + "spec:\n  rules: []\n#" + strings.Repeat("x", yamlpos.MaxSearch) + "\nx: \xff\n",
			want: `policy.yaml: not valid YAML: invalid leading UTF-8 octet`},
		{name: "a quoted boolean", doc: header + "spec:\n  rules:\n    - name: a\n      uniqueIdentity: \"true\"\n",
			want: `policy.yaml:6:23: spec.rules[0].uniqueIdentity: "true" is not a boolean; use true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse: %v\nwant %s", err, tt.want)
			}
		})
	}
}
