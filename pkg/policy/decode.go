package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// decoder walks the YAML node tree by hand rather than unmarshalling: the
// Node API gives every key and value its line and column, so unknown,
// repeated and mistyped fields are all reported, at once, where they are.
type decoder struct {
	file string
	errs []*posError
}

func (d *decoder) fail(n *yaml.Node, field string, err error) {
	d.errs = append(d.errs, &posError{file: d.file, line: n.Line, column: n.Column, field: field, err: err})
}

func (d *decoder) failf(n *yaml.Node, field, format string, args ...any) {
	d.fail(n, field, fmt.Errorf(format, args...))
}

// resolve follows aliases ("*name") to their anchored node. The parser
// rejects cycles; the bound is only a guard.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports a missing value ("key:" with nothing, "~" or "null").
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node is, for "found ..." messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an unsupported YAML node"
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fields returns the values of the mapping n by key, reporting keys that
// are not known or are repeated. ok is false when n is not a mapping.
func (d *decoder) fields(n *yaml.Node, path string, known ...string) (map[string]*yaml.Node, bool) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		what := "must be"
		if path == "" {
			what = "the document must be"
		}
		d.failf(n, path, "%s a mapping (key: value), found %s", what, describe(n))
		return nil, false
	}
	out := make(map[string]*yaml.Node, len(known))
	keys := make(map[string]*yaml.Node, len(known))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.failf(k, path, "a key must be a string, found %s", describe(k))
			continue
		}
		name := k.Value
		switch first, seen := keys[name]; {
		case k.Tag == "!!merge":
			d.failf(k, path, "merge keys (<<) are not supported; write the fields out")
		case !slices.Contains(known, name):
			if s := suggest(name, known); s != "" {
				d.failf(k, join(path, name), "unknown field; did you mean %q?", s)
			} else {
				d.failf(k, join(path, name), "unknown field; known fields here: %s", strings.Join(known, ", "))
			}
		case seen:
			d.failf(k, join(path, name), "given twice (first at line %d); keep one", first.Line)
		default:
			keys[name], out[name] = k, v
		}
	}
	return out, true
}

// str returns a scalar's text. Numbers and booleans are text too (a rule
// may be named "2024"), but a missing value is not.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.failf(n, path, "must be a string, found %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// boolean reads true or false; a missing value is false.
func (d *decoder) boolean(n *yaml.Node, path string) bool {
	n = resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		switch strings.ToLower(n.Value) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	d.failf(n, path, "%s is not a boolean; use true or false", describe(n))
	return false
}

// list returns a sequence's items; ok is false when n is not a sequence.
func (d *decoder) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.failf(n, path, "must be a list, found %s", describe(n))
		return nil, false
	}
	return n.Content, true
}

// index names a list item: "spec.rules[2]".
func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }
