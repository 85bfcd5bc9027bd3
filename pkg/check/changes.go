package check

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/keyless-dev/keyless/pkg/mutation"
)

// patchChanges lists the changes of a JSON patch one field at a time: the
// "add" of a whole map becomes one change per key.
func patchChanges(p mutation.Patch) []Change {
	out := []Change{}
	for _, op := range p {
		switch v := op.Value.(type) {
		case map[string]string:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				out = append(out, change(op.Op, op.Path+"/"+escape(k), v[k]))
			}
		case string:
			out = append(out, change(op.Op, op.Path, v))
		case nil:
			out = append(out, Change{Op: op.Op, Path: op.Path, Field: fieldOf(op.Path)})
		default:
			raw, _ := json.Marshal(v)
			out = append(out, change(op.Op, op.Path, string(raw)))
		}
	}
	return out
}

func change(op, path, value string) Change {
	return Change{Op: op, Path: path, Field: fieldOf(path), Value: &value}
}

// diffAnnotations lists how the annotations change from before to after,
// in key order.
func diffAnnotations(before, after map[string]string) []Change {
	const base = "/metadata/annotations/"
	out := []Change{}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		old, ok := before[k]
		switch {
		case !ok:
			out = append(out, change("add", base+escape(k), after[k]))
		case old != after[k]:
			out = append(out, change("replace", base+escape(k), after[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[k]; !ok {
			out = append(out, Change{Op: "remove", Path: base + escape(k), Field: fieldOf(base + escape(k))})
		}
	}
	return out
}

// fieldOf turns a JSON pointer into a field path for people:
// /spec/template/metadata/labels/azure.workload.identity~1use becomes
// spec.template.metadata.labels[azure.workload.identity/use].
func fieldOf(pointer string) string {
	var b strings.Builder
	mapKey := false
	for i, seg := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		seg = unescape(seg)
		switch {
		case mapKey:
			b.WriteString("[" + seg + "]")
		case i > 0:
			b.WriteString("." + seg)
		default:
			b.WriteString(seg)
		}
		mapKey = !mapKey && (seg == "labels" || seg == "annotations" || seg == "nodeSelector")
	}
	return b.String()
}

// escape turns a map key into a JSON pointer token (RFC 6901).
func escape(key string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

func unescape(token string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(token)
}
