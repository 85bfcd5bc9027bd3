package policy

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// YAML syntax errors. The YAML library reports them with a line that is
// often not the mistake's and no column; this file finds both.

// yamlLine finds the line in the YAML library's messages, which carry no
// column and sometimes no line.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError is the YAML library's message without its "yaml: line N: "
// prefix, which the posError carries in the common form.
type syntaxError struct {
	text string
	err  error
}

func (e *syntaxError) Error() string { return e.text }
func (e *syntaxError) Unwrap() error { return e.err }

func (d *decoder) syntax(raw []byte, err error) error {
	text, line := splitYAMLError(err)
	column := 0
	if l, c := syntaxPosition(raw, text); l > 0 {
		line, column = l, c
	}
	text = "not valid YAML: " + text
	if tabIndented(raw, line) {
		text += " (YAML does not allow tabs for indentation; use spaces)"
	}
	return &posError{file: d.file, line: line, column: column, err: &syntaxError{text: text, err: err}}
}

// splitYAMLError splits "yaml: line N: problem" into problem and N (0 if
// absent).
func splitYAMLError(err error) (problem string, line int) {
	text := err.Error()
	if m := yamlLine.FindStringSubmatch(text); m != nil {
		line, _ = strconv.Atoi(m[1])
		text = text[len(m[0]):]
	}
	return strings.TrimPrefix(text, "yaml: "), line
}

// maxSyntaxSearch bounds the input that syntaxPosition searches.
const maxSyntaxSearch = 128 << 10

// syntaxPosition finds where the YAML problem shows: where the shortest
// prefix of raw that fails with the same problem ends. The YAML library
// gives no column, and its line is that of the enclosing block, often far
// above the mistake. Prefixes of block YAML stay valid up to the mistake
// and fail after it, so a binary search, first over line ends, then over
// the characters of that line, takes a few dozen parses. On the rare input
// where that does not hold, the place found still shows the problem.
func syntaxPosition(raw []byte, problem string) (line, column int) {
	if len(raw) > maxSyntaxSearch {
		return 0, 0
	}
	fails := func(end int) bool {
		err := decodeAll(raw[:end])
		if err == nil {
			return false
		}
		p, _ := splitYAMLError(err)
		return p == problem
	}
	var ends []int // the end of each line, after its "\n"
	for i, c := range raw {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(raw) {
		ends = append(ends, len(raw))
	}
	l := sort.Search(len(ends), func(i int) bool { return fails(ends[i]) })
	if l == len(ends) {
		return 0, 0 // only the whole input fails so: no position
	}
	start := 0
	if l > 0 {
		start = ends[l-1]
	}
	width := ends[l] - start
	c := sort.Search(width, func(i int) bool { return fails(start + i + 1) })
	return l + 1, utf8.RuneCount(raw[start : start+min(c+1, width)])
}

// decodeAll parses every document of raw, returning the first error.
func decodeAll(raw []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// tabIndented reports whether the indentation of the given line (1-based)
// holds a tab, the commonest cause of "cannot start any token".
func tabIndented(raw []byte, line int) bool {
	n := 0
	for l := range bytes.Lines(raw) {
		if n++; n == line {
			indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
			return bytes.ContainsRune(indent, '\t')
		}
	}
	return false
}
