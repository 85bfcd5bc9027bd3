package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/keyless-dev/keyless/pkg/internal/yamlpos"
)

// Document is one object of the input, decoded as the API server would
// receive it.
type Document struct {
	// File names the input, as given on the command line ("<stdin>" for
	// standard input).
	File string
	// Line and Column locate the object's first key.
	Line, Column int
	APIVersion   string
	Kind         string
	// Namespace is metadata.namespace as written; empty when not given.
	Namespace string
	Name      string
	// JSON is the object encoded as JSON.
	JSON []byte

	node *yaml.Node // the object's mapping, for positions of fields
}

// DecodeError is an input that cannot be read as Kubernetes objects.
type DecodeError struct {
	File string
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	Message      string
}

func (e *DecodeError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return e.File + ": " + e.Message
}

// Decode reads every object of one input: a stream of YAML documents
// separated by "---", or JSON values; a v1 List is expanded into its items.
// Documents that hold nothing (only comments) are skipped. It returns the
// objects read before the first problem, and the problems: a YAML syntax
// error ends the input, a bad document does not.
func Decode(file string, data []byte) ([]Document, []*DecodeError) {
	if isJSON(file, data) {
		return decodeJSON(file, data)
	}
	var docs []Document
	var errs []*DecodeError
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, errs
		}
		if err != nil {
			return docs, append(errs, syntaxError(file, data, err))
		}
		more, derrs := fromNode(file, &n)
		docs, errs = append(docs, more...), append(errs, derrs...)
	}
}

// isJSON decides whether data is JSON: by the .json extension, or, for
// standard input, by its first character.
func isJSON(file string, data []byte) bool {
	if strings.HasSuffix(strings.ToLower(file), ".json") {
		return true
	}
	if file != StdinName {
		return false
	}
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
}

// decodeJSON reads a stream of JSON values. encoding/json finds syntax errors
// with an exact offset; YAML (of which JSON is a subset) then gives the
// positions of the fields.
func decodeJSON(file string, data []byte) ([]Document, []*DecodeError) {
	var docs []Document
	var errs []*DecodeError
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		end := int(dec.InputOffset())
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return docs, errs
		}
		if err != nil {
			off := int(dec.InputOffset())
			var se *json.SyntaxError
			if errors.As(err, &se) {
				off = int(se.Offset) - 1 // the error comes after reading the bad byte
			}
			msg := strings.TrimPrefix(err.Error(), "json: ")
			if errors.Is(err, io.ErrUnexpectedEOF) {
				off, msg = len(data), "unexpected end of input: a JSON value is not closed"
			}
			line, col := position(data, off)
			return docs, append(errs, &DecodeError{File: file, Line: line, Column: col, Message: "invalid JSON: " + msg})
		}
		start := end + len(data[end:]) - len(bytes.TrimLeft(data[end:], " \t\r\n"))
		var n yaml.Node
		if err := yaml.Unmarshal(raw, &n); err != nil {
			line, col := position(data, start)
			return docs, append(errs, &DecodeError{File: file, Line: line, Column: col, Message: err.Error()})
		}
		line, col := position(data, start)
		shift(&n, line-1, col-1)
		more, derrs := fromNode(file, &n)
		docs, errs = append(docs, more...), append(errs, derrs...)
	}
}

// shift moves the positions of a tree parsed from a slice starting at
// (line+1, col+1) of the whole input.
func shift(n *yaml.Node, line, col int) {
	if n.Line == 1 {
		n.Column += col
	}
	n.Line += line
	for _, c := range n.Content {
		shift(c, line, col)
	}
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, off int) (int, int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := off - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// syntaxError turns a YAML parser error into a DecodeError. The parser gives
// no column, and its line is often that of the enclosing block; the
// position is where the shortest failing prefix of the document ends.
func syntaxError(file string, data []byte, err error) *DecodeError {
	problem, line := yamlpos.Split(err)
	e := &DecodeError{File: file, Line: line, Message: "invalid YAML: " + problem}
	start := documentStart(data, line)
	if l, c := yamlpos.Position(data[start:], problem); l > 0 {
		e.Line = bytes.Count(data[:start], []byte("\n")) + l
		e.Column = c
	} else if e.Line > 0 {
		e.Column = firstColumn(data, e.Line)
	}
	if strings.Contains(problem, "cannot start any token") && yamlpos.TabIndented(data, e.Line) {
		e.Message += " (a tab in the indentation; YAML indents with spaces only)"
	}
	return e
}

// documentStart returns the offset of the document that holds line: after
// the last "---" line at or before it.
func documentStart(data []byte, line int) int {
	start, off := 0, 0
	for n := 1; off < len(data) && (line <= 0 || n <= line); n++ {
		end := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i + 1
		}
		if bytes.HasPrefix(data[off:end], []byte("---")) {
			start = end
		}
		off = end
	}
	return start
}

func lineText(data []byte, line int) []byte {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return nil
	}
	return lines[line-1]
}

// firstColumn is the column of the first non-blank character of a line.
func firstColumn(data []byte, line int) int {
	text := bytes.TrimRight(lineText(data, line), " \t\r")
	if len(text) == 0 {
		return 0
	}
	return len(text) - len(bytes.TrimLeft(text, " \t")) + 1
}

// fromNode checks one YAML document and returns its object, or the items
// of a List.
func fromNode(file string, doc *yaml.Node) ([]Document, []*DecodeError) {
	root := doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		root = doc.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil // an empty document
	}
	d, err := object(file, root)
	if err != nil {
		return nil, []*DecodeError{err}
	}
	if !isList(d) {
		return []Document{*d}, nil
	}
	items := child(root, "items")
	if items == nil || items.Kind == yaml.ScalarNode && items.Tag == "!!null" {
		return nil, nil
	}
	if items.Kind != yaml.SequenceNode {
		return nil, []*DecodeError{at(file, items, "the items of a %s must be a list of objects", d.Kind)}
	}
	var docs []Document
	var errs []*DecodeError
	for _, item := range items.Content {
		d, err := object(file, item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, *d)
	}
	return docs, errs
}

// isList reports a v1 List, or a typed list such as a DeploymentList.
func isList(d *Document) bool {
	return d.Kind == "List" || strings.HasSuffix(d.Kind, "List") && child(d.node, "items") != nil
}

// object checks the parts of one object that Keyless reads and encodes it.
func object(file string, n *yaml.Node) (*Document, *DecodeError) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil, at(file, n, "expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found %s", describe(n))
	}
	d := &Document{File: file, Line: n.Line, Column: n.Column, node: n}
	var err *DecodeError
	if d.APIVersion, err = stringField(file, n, "apiVersion"); err != nil {
		return nil, err
	}
	if d.Kind, err = stringField(file, n, "kind"); err != nil {
		return nil, err
	}
	switch {
	case d.Kind == "":
		return nil, at(file, n, "the object has no kind; every Kubernetes object needs apiVersion and kind")
	case d.APIVersion == "":
		return nil, at(file, n, "%s has no apiVersion; every Kubernetes object needs apiVersion and kind", d.Kind)
	}
	if meta := child(n, "metadata"); meta != nil && !isNull(meta) {
		if meta.Kind != yaml.MappingNode {
			return nil, at(file, meta, "%s: metadata must be a mapping, found %s", d.Kind, describe(meta))
		}
		if d.Name, err = stringField(file, meta, "name"); err != nil {
			return nil, err
		}
		if d.Namespace, err = stringField(file, meta, "namespace"); err != nil {
			return nil, err
		}
		if d.Name == "" {
			if d.Name, err = stringField(file, meta, "generateName"); err != nil {
				return nil, err
			}
		}
	}
	if isList(d) {
		return d, nil
	}
	for _, p := range stringMaps(d.Kind) {
		if err := checkStringMap(file, d, p); err != nil {
			return nil, err
		}
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, typeError(file, n, err)
	}
	raw, jerr := json.Marshal(jsonable(v))
	if jerr != nil {
		return nil, at(file, n, "%s/%s cannot be encoded as JSON: %v", d.Kind, d.Name, jerr)
	}
	d.JSON = raw
	return d, nil
}

// stringMaps lists the string maps that Keyless reads in objects of kind;
// their values must be strings, as the API server requires.
func stringMaps(kind string) [][]string {
	paths := [][]string{{"metadata", "annotations"}, {"metadata", "labels"}}
	tmpl := []string{"spec", "template"}
	if kind == "CronJob" {
		tmpl = []string{"spec", "jobTemplate", "spec", "template"}
	}
	return append(paths,
		append(append([]string{}, tmpl...), "metadata", "labels"),
		append(append([]string{}, tmpl...), "spec", "nodeSelector"))
}

// checkStringMap rejects a map whose values are not strings, such as an
// annotation `keyless.dev/aws-session-tags: false`, which the API server
// refuses.
func checkStringMap(file string, d *Document, path []string) *DecodeError {
	n := d.node
	for _, p := range path {
		if n = child(n, p); n == nil || isNull(n) {
			return nil
		}
	}
	where := strings.Join(path, ".")
	if n.Kind != yaml.MappingNode {
		return at(file, n, "%s/%s: %s must be a mapping of strings, found %s", d.Kind, d.Name, where, describe(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.ScalarNode && (v.Tag == "!!str" || v.Tag == "!!null") {
			continue
		}
		if v.Kind == yaml.ScalarNode {
			return at(file, v, "%s/%s: %s[%s] is %s, but the values of %s must be strings; quote it: %q",
				d.Kind, d.Name, where, k.Value, describe(v), path[len(path)-1], v.Value)
		}
		return at(file, v, "%s/%s: %s[%s] is %s, but the values of %s must be strings",
			d.Kind, d.Name, where, k.Value, describe(v), path[len(path)-1])
	}
	return nil
}

var lineRef = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeError reports the first problem of a node.Decode error (a duplicate
// key, mostly) at its line.
func typeError(file string, n *yaml.Node, err error) *DecodeError {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if m := lineRef.FindStringSubmatch(te.Errors[0]); m != nil {
			line, _ := strconv.Atoi(m[1])
			return &DecodeError{File: file, Line: line, Column: columnAt(n, line), Message: m[2]}
		}
		return at(file, n, "%s", te.Errors[0])
	}
	return at(file, n, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// columnAt finds the column of the first node of the tree on line.
func columnAt(n *yaml.Node, line int) int {
	if n.Line == line {
		return n.Column
	}
	for _, c := range n.Content {
		if col := columnAt(c, line); col > 0 {
			return col
		}
	}
	return 0
}

func stringField(file string, m *yaml.Node, key string) (string, *DecodeError) {
	n := child(m, key)
	if n == nil || isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", at(file, n, "%s must be a string, found %s", key, describe(n))
	}
	return n.Value, nil
}

func at(file string, n *yaml.Node, format string, a ...any) *DecodeError {
	return &DecodeError{File: file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, a...)}
}

// child returns the value of key in mapping m, or nil.
func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			if v.Kind == yaml.AliasNode && v.Alias != nil {
				return v.Alias
			}
			return v
		}
	}
	return nil
}

// key returns the key node of key in mapping m, or nil.
func key(m *yaml.Node, k string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			return m.Content[i]
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		}
		return "a " + strings.TrimPrefix(n.Tag, "!!") + " (" + n.Value + ")"
	}
	return "an alias"
}

// jsonable turns what YAML decoded into values encoding/json accepts: maps
// with non-string keys get their keys printed, as kubectl does.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
		return t
	}
	return v
}

// Position returns the line and column of a field of the object, given as a
// field path ("metadata.annotations[keyless.dev/aws-role]"): of the key
// when found, else of the nearest enclosing field that is, else of the
// object.
func (d *Document) Position(path string) (int, int) {
	line, col := d.Line, d.Column
	n := d.node
	for _, seg := range splitPath(path) {
		k := key(n, seg)
		if k == nil {
			break
		}
		line, col = k.Line, k.Column
		n = child(n, seg)
	}
	return line, col
}

// splitPath splits a field path: "a.b[k.e/y].c" gives a, b, k.e/y, c. Index
// subscripts ("containers[0]") end the walk, since only maps are looked up.
func splitPath(path string) []string {
	var segs []string
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return segs
			}
			segs = append(segs, path[1:end])
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			segs = append(segs, path[:end])
			path = path[end:]
		}
	}
	return segs
}
