package yamlpos

import (
	"errors"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestPosition(t *testing.T) {
	tests := []struct {
		name, doc          string
		wantLine, wantCol  int
		wantTab, wantFound bool
	}{
		{name: "a middle line", doc: "a: 1\nb: c: d\ne: 2\n", wantLine: 2, wantCol: 5, wantFound: true},
		{name: "last line without a newline", doc: "a: 1\nb: : c", wantLine: 2, wantCol: 4, wantFound: true},
		{name: "one line", doc: "a: : b", wantLine: 1, wantCol: 4, wantFound: true},
		{name: "tab in the indentation", doc: "a:\n\tb: 1\n", wantLine: 2, wantCol: 1, wantTab: true, wantFound: true},
		{name: "too large to search", doc: "a: 1\n#" + strings.Repeat("x", MaxSearch) + "\nb: : c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n yaml.Node
			err := yaml.Unmarshal([]byte(tt.doc), &n)
			if err == nil {
				t.Fatal("the document parses")
			}
			problem, reported := Split(err)
			if problem == "" || strings.HasPrefix(problem, "yaml:") {
				t.Errorf("Split(%q) = %q", err, problem)
			}
			line, col := Position([]byte(tt.doc), problem)
			if !tt.wantFound {
				if line != 0 || col != 0 {
					t.Errorf("Position = %d:%d, want none", line, col)
				}
				return
			}
			if line != tt.wantLine || col != tt.wantCol {
				t.Errorf("Position = %d:%d, want %d:%d (the library said line %d: %s)", line, col, tt.wantLine, tt.wantCol, reported, problem)
			}
			if got := TabIndented([]byte(tt.doc), line); got != tt.wantTab {
				t.Errorf("TabIndented(line %d) = %v, want %v", line, got, tt.wantTab)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	problem, line := Split(errors.New("yaml: line 7: did not find expected key"))
	if problem != "did not find expected key" || line != 7 {
		t.Errorf("Split = %q, %d", problem, line)
	}
	problem, line = Split(errors.New("yaml: control characters are not allowed"))
	if problem != "control characters are not allowed" || line != 0 {
		t.Errorf("Split = %q, %d", problem, line)
	}
}
