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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultFileName names the document in Parse's messages.
const DefaultFileName = "policy.yaml"

// Parse decodes and validates a ConnectionPolicy document, naming it
// DefaultFileName in messages. Empty input, or only blanks and comments,
// gives Default(): a missing policy must not allow everything. Every
// problem is reported, joined with errors.Join, each as
// "FILE:LINE:COLUMN: FIELD: what is wrong; how to fix it".
func Parse(raw []byte) (*Policy, error) { return ParseNamed(DefaultFileName, raw) }

// ParseNamed is Parse with the file name to put in messages.
func ParseNamed(name string, raw []byte) (*Policy, error) {
	if blank(raw) {
		return Default(), nil
	}
	d := &decoder{file: name}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Default(), nil
		}
		return nil, d.syntax(raw, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.failf(&next, "", "found a second YAML document; a policy is one document, remove the other or the \"---\"")
		return nil, joinSorted(d.errs)
	case !errors.Is(err, io.EOF):
		return nil, d.syntax(raw, err)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return Default(), nil // "---" alone is empty too
	}
	spec := d.document(doc.Content[0])
	if len(d.errs) > 0 {
		return nil, joinSorted(d.errs)
	}
	return &Policy{spec: spec}, nil
}

// blank reports input with only blanks and comments. The YAML library
// agrees on most such input, but rejects a tab on an otherwise empty line.
func blank(raw []byte) bool {
	for line := range bytes.Lines(raw) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

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
	if strings.Contains(text, "cannot start any token") && bytes.ContainsRune(raw, '\t') {
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

func (d *decoder) document(n *yaml.Node) Spec {
	f, ok := d.fields(n, "", "apiVersion", "kind", "spec")
	if !ok {
		return Spec{}
	}
	d.constant(f["apiVersion"], n, "apiVersion", APIVersion)
	d.constant(f["kind"], n, "kind", Kind)
	if f["spec"] == nil || isNull(f["spec"]) {
		d.failf(n, "spec", "missing; add spec.rules (\"rules: []\" allows every identity)")
		return Spec{}
	}
	return d.spec(f["spec"], "spec")
}

// constant checks apiVersion and kind, saying what was found and what is
// expected.
func (d *decoder) constant(v, parent *yaml.Node, field, want string) {
	if v == nil {
		d.failf(parent, field, "missing; expected %s: %s", field, want)
		return
	}
	if got, ok := d.str(v, field); ok && got != want {
		d.failf(v, field, "found %q, expected %q", got, want)
	}
}

func (d *decoder) spec(n *yaml.Node, path string) Spec {
	f, ok := d.fields(n, path, "existingViolations", "rules")
	if !ok {
		return Spec{}
	}
	s := Spec{ExistingViolations: Report}
	if v := f["existingViolations"]; v != nil && !isNull(v) {
		if ev, ok := d.str(v, join(path, "existingViolations")); ok {
			s.ExistingViolations = ExistingViolations(ev)
			if err := checkExistingViolations(s.ExistingViolations); err != nil {
				d.fail(v, join(path, "existingViolations"), err)
			}
		}
	}
	rulesPath := join(path, "rules")
	v := f["rules"]
	if v == nil || isNull(v) {
		// Leaving the rules out must not allow everything by accident.
		at := n
		if v != nil {
			at = v
		}
		d.failf(at, rulesPath, "missing; list the rules, or write \"rules: []\" to allow every identity")
		return s
	}
	items, ok := d.list(v, rulesPath)
	if !ok {
		return s
	}
	s.Rules = make([]Rule, 0, len(items))
	firstLine := map[string]int{}
	for i, item := range items {
		p := index(rulesPath, i)
		r, nameNode := d.rule(item, p)
		if nameNode != nil {
			if line, dup := firstLine[r.Name]; dup {
				d.failf(nameNode, join(p, "name"), "%q is already the name of the rule at line %d; rule names must be unique", r.Name, line)
			} else {
				firstLine[r.Name] = nameNode.Line
			}
		}
		s.Rules = append(s.Rules, r)
	}
	return s
}

// rule decodes one rule. nameNode is the name's node when the name is
// valid, for the uniqueness check.
func (d *decoder) rule(n *yaml.Node, path string) (r Rule, nameNode *yaml.Node) {
	f, ok := d.fields(n, path, "name", "mode", "namespaces", "awsRoles", "azureIdentities", "gcpServiceAccounts",
		"uniqueIdentity", "requireNamespaceLabel", "requireConnection")
	if !ok {
		return r, nil
	}
	if v := f["name"]; v == nil {
		d.failf(n, join(path, "name"), "missing; every rule needs a name, used in messages, Events and metrics")
	} else if name, ok := d.str(v, join(path, "name")); ok {
		r.Name = name
		if err := checkRuleName(name); err != nil {
			d.fail(v, join(path, "name"), err)
		} else {
			nameNode = resolve(v)
		}
	}
	r.Mode = Enforce
	if v := f["mode"]; v != nil && !isNull(v) {
		if m, ok := d.str(v, join(path, "mode")); ok {
			r.Mode = Mode(m)
			if err := checkMode(r.Mode); err != nil {
				d.fail(v, join(path, "mode"), err)
			}
		}
	}
	if v := f["namespaces"]; v != nil && !isNull(v) {
		r.Namespaces = d.namespaces(v, join(path, "namespaces"))
	}
	r.AWSRoles = d.patterns(f["awsRoles"], join(path, "awsRoles"), checkAWSPattern)
	r.AzureIdentities = d.patterns(f["azureIdentities"], join(path, "azureIdentities"), checkAzurePattern)
	r.GCPServiceAccounts = d.patterns(f["gcpServiceAccounts"], join(path, "gcpServiceAccounts"), checkGCPPattern)
	if v := f["uniqueIdentity"]; v != nil {
		r.UniqueIdentity = d.boolean(v, join(path, "uniqueIdentity"))
	}
	if v := f["requireNamespaceLabel"]; v != nil && !isNull(v) {
		if l, ok := d.str(v, join(path, "requireNamespaceLabel")); ok {
			r.RequireNamespaceLabel = l
			if err := checkRequiredLabel(l); err != nil {
				d.fail(v, join(path, "requireNamespaceLabel"), err)
			}
		}
	}
	if v := f["requireConnection"]; v != nil {
		r.RequireConnection = d.boolean(v, join(path, "requireConnection"))
	}
	return r, nameNode
}

// patterns decodes one cloud's list. A missing key leaves the cloud
// unconstrained (nil); "[]" allows nothing (empty, not nil). A key with no
// value is an error, since it could mean either.
func (d *decoder) patterns(n *yaml.Node, path string, check func(string) error) []string {
	if n == nil {
		return nil
	}
	if isNull(n) {
		d.failf(n, path, "has no value; write [] to allow nothing, or remove the key to leave this cloud unconstrained")
		return nil
	}
	items, ok := d.list(n, path)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		p := index(path, i)
		if s, ok := d.str(item, p); ok {
			if err := check(s); err != nil {
				d.fail(item, p, err)
			}
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) namespaces(n *yaml.Node, path string) NamespaceSelector {
	var ns NamespaceSelector
	f, ok := d.fields(n, path, "names", "selector")
	if !ok {
		return ns
	}
	if v := f["names"]; v != nil && !isNull(v) {
		ns.Names = d.patterns(v, join(path, "names"), checkNamespacePattern)
		if ns.Names != nil && len(ns.Names) == 0 {
			// An empty list would select no namespace, silently
			// switching the rule off.
			d.failf(v, join(path, "names"), "is empty; remove it to select every namespace, or list name patterns")
		}
	}
	if v := f["selector"]; v != nil && !isNull(v) {
		ns.Selector = d.selector(v, join(path, "selector"))
	}
	return ns
}

// selector decodes a metav1.LabelSelector and checks each requirement on
// its own, so that a bad one is reported where it is.
func (d *decoder) selector(n *yaml.Node, path string) *metav1.LabelSelector {
	f, ok := d.fields(n, path, "matchLabels", "matchExpressions")
	if !ok {
		return nil
	}
	sel := &metav1.LabelSelector{}
	if v := f["matchLabels"]; v != nil && !isNull(v) {
		d.matchLabels(v, join(path, "matchLabels"), sel)
	}
	if v := f["matchExpressions"]; v != nil && !isNull(v) {
		p := join(path, "matchExpressions")
		items, _ := d.list(v, p)
		for i, item := range items {
			if e, ok := d.expression(item, index(p, i)); ok {
				sel.MatchExpressions = append(sel.MatchExpressions, e)
			}
		}
	}
	return sel
}

func (d *decoder) matchLabels(n *yaml.Node, path string, sel *metav1.LabelSelector) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.failf(n, path, "must be a mapping of label keys to values, found %s", describe(n))
		return
	}
	sel.MatchLabels = map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k, ok := d.str(kn, path)
		if !ok {
			continue
		}
		p := path + "[" + k + "]"
		if _, dup := sel.MatchLabels[k]; dup {
			d.failf(kn, p, "given twice; keep one")
			continue
		}
		v, ok := d.str(vn, p)
		if !ok {
			continue
		}
		if err := checkSelector(&metav1.LabelSelector{MatchLabels: map[string]string{k: v}}); err != nil {
			d.fail(kn, p, err)
		}
		sel.MatchLabels[k] = v
	}
}

func (d *decoder) expression(n *yaml.Node, path string) (metav1.LabelSelectorRequirement, bool) {
	var e metav1.LabelSelectorRequirement
	f, ok := d.fields(n, path, "key", "operator", "values")
	if !ok {
		return e, false
	}
	for _, k := range []string{"key", "operator"} {
		if f[k] == nil {
			d.failf(n, join(path, k), "missing")
			ok = false
		}
	}
	if !ok {
		return e, false
	}
	key, ok1 := d.str(f["key"], join(path, "key"))
	op, ok2 := d.str(f["operator"], join(path, "operator"))
	e.Key, e.Operator = key, metav1.LabelSelectorOperator(op)
	if v := f["values"]; v != nil && !isNull(v) {
		items, _ := d.list(v, join(path, "values"))
		e.Values = []string{}
		for i, item := range items {
			if s, ok := d.str(item, index(join(path, "values"), i)); ok {
				e.Values = append(e.Values, s)
			}
		}
	}
	if !ok1 || !ok2 {
		return e, false
	}
	if err := checkSelector(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{e}}); err != nil {
		d.fail(n, path, err)
	}
	return e, true
}
