package policy

import (
	yaml "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

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
