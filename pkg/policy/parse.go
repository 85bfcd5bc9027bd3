package policy

import (
	"bytes"
	"errors"
	"io"

	yaml "go.yaml.in/yaml/v3"
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
	return newPolicy(spec), nil
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
	f, ok := d.fields(n, path, "existingViolations", "allowRetain", "rules")
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
	if v := f["allowRetain"]; v != nil {
		p := join(path, "allowRetain")
		if isNull(v) {
			// Either reading would be a guess: nowhere, or everywhere.
			d.failf(v, p, "has no value; remove it to allow deletion-policy retain nowhere, write {} to allow it "+
				"everywhere, or select namespaces with names and selector")
		} else {
			sel := d.namespaces(v, p)
			s.AllowRetain = &sel
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
