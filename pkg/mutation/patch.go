package mutation

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/keyless-dev/keyless/pkg/internal/jsonstr"
)

// Operation is one RFC 6902 JSON patch operation.
type Operation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Patch is a JSON patch; an empty Patch means "no change".
type Patch []Operation

// JSON encodes the patch, as encoding/json does; an empty patch encodes as
// nil.
func (p Patch) JSON() ([]byte, error) {
	if len(p) == 0 {
		return nil, nil
	}
	return p.appendJSON(make([]byte, 0, 128*len(p)))
}

// appendJSON writes the values Keyless puts in patches (strings, string
// maps and string lists) itself, and leaves any other to encoding/json.
func (p Patch) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '[')
	for i, op := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":`...)
		b = jsonstr.Append(b, op.Op)
		b = append(b, `,"path":`...)
		b = jsonstr.Append(b, op.Path)
		if op.Value != nil {
			b = append(b, `,"value":`...)
			var err error
			if b, err = appendValue(b, op.Value); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return jsonstr.Append(b, v), nil
	case map[string]string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, k)
			b = append(b, ':')
			b = jsonstr.Append(b, v[k])
		}
		return append(b, '}'), nil
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, e)
		}
		return append(b, ']'), nil
	}
	raw, err := json.Marshal(v)
	return append(b, raw...), err
}

// escape turns a map key into a JSON pointer token (RFC 6901).
func escape(key string) string {
	if !strings.ContainsAny(key, "~/") {
		return key
	}
	return pointerEscaper.Replace(key)
}

// pointerEscaper is built once: a Replacer builds its tables on first use.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// mapEdit collects the changes to one map[string]string in the object, so
// that a missing map is created by a single "add" of the whole map. The
// few keys set are kept sorted in a slice rather than a map.
type mapEdit struct {
	path    string
	current map[string]string
	set     []entry
	remove  []string
}

type entry struct{ key, value string }

func newMapEdit(path string, current map[string]string) *mapEdit {
	return &mapEdit{path: path, current: current}
}

// Set asks for key=value; it is a no-op when the map already holds it.
func (m *mapEdit) Set(key, value string) {
	if v, ok := m.current[key]; ok && v == value {
		return
	}
	i, found := slices.BinarySearchFunc(m.set, key, func(e entry, k string) int { return strings.Compare(e.key, k) })
	if found {
		m.set[i].value = value
		return
	}
	m.set = slices.Insert(m.set, i, entry{key, value})
}

// Remove asks for key to go; it is a no-op when the map does not hold it.
func (m *mapEdit) Remove(key string) {
	if _, ok := m.current[key]; ok {
		m.remove = append(m.remove, key)
	}
}

func (m *mapEdit) Empty() bool { return len(m.set) == 0 && len(m.remove) == 0 }

// opsOrZero is ops, and 0 for a nil edit.
func (m *mapEdit) opsOrZero() int {
	if m == nil {
		return 0
	}
	return m.ops()
}

// ops is how many operations Apply appends.
func (m *mapEdit) ops() int {
	if m.current == nil {
		return min(len(m.set), 1)
	}
	return len(m.set) + len(m.remove)
}

// Apply appends the operations to p.
func (m *mapEdit) Apply(p Patch) Patch {
	if m.current == nil {
		if len(m.set) > 0 {
			whole := make(map[string]string, len(m.set))
			for _, e := range m.set {
				whole[e.key] = e.value
			}
			p = append(p, Operation{Op: "add", Path: m.path, Value: whole})
		}
		return p
	}
	for _, e := range m.set {
		p = append(p, Operation{Op: "add", Path: m.path + "/" + escape(e.key), Value: e.value})
	}
	for _, k := range m.remove {
		p = append(p, Operation{Op: "remove", Path: m.path + "/" + escape(k)})
	}
	return p
}
