// Package yamlpos finds where a YAML syntax error is. The YAML library
// reports a line that is often that of the enclosing block, far above the
// mistake, and no column; the policy file and `keyless check` both show
// FILE:LINE:COLUMN from here.
package yamlpos

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

// MaxSearch bounds the input that Position searches.
const MaxSearch = 128 << 10

// yamlLine finds the line in the YAML library's messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// Split splits the YAML library's "yaml: line N: problem" into the
// problem and N (0 when absent).
func Split(err error) (problem string, line int) {
	text := err.Error()
	if m := yamlLine.FindStringSubmatch(text); m != nil {
		line, _ = strconv.Atoi(m[1])
		text = text[len(m[0]):]
	}
	return strings.TrimPrefix(text, "yaml: "), line
}

// Position finds where problem shows in raw: where the shortest prefix of
// raw that fails with the same problem ends, as a line and a column
// (1-based; 0, 0 when only the whole input fails so, or raw is larger than
// MaxSearch). Prefixes of block YAML stay valid up to the mistake and fail
// after it, so a binary search, first over line ends, then over the
// characters of that line, takes a few dozen parses. On the rare input
// where that does not hold, the place found still shows the problem.
func Position(raw []byte, problem string) (line, column int) {
	if len(raw) > MaxSearch {
		return 0, 0
	}
	fails := func(end int) bool {
		err := decodeAll(raw[:end])
		if err == nil {
			return false
		}
		p, _ := Split(err)
		return p == problem
	}
	var ends []int // the end of each line, after its "\n"
	for i, c := range raw {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(raw) {
		ends = append(ends, len(raw)) // a last line without a newline
	}
	l := sort.Search(len(ends), func(i int) bool { return fails(ends[i]) })
	if l == len(ends) {
		return 0, 0
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

// TabIndented reports whether the indentation of the given line (1-based)
// holds a tab, the commonest cause of "cannot start any token".
func TabIndented(raw []byte, line int) bool {
	n := 0
	for l := range bytes.Lines(raw) {
		if n++; n == line {
			indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
			return bytes.ContainsRune(indent, '\t')
		}
	}
	return false
}
