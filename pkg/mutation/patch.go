package mutation

import (
	"encoding/json"
	"strings"
)

// Operation is one RFC 6902 JSON patch operation.
type Operation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Patch is a JSON patch; an empty Patch means "no change".
type Patch []Operation

// JSON encodes the patch; an empty patch encodes as nil.
func (p Patch) JSON() ([]byte, error) {
	if len(p) == 0 {
		return nil, nil
	}
	return json.Marshal([]Operation(p))
}

// escape turns a map key into a JSON pointer token (RFC 6901).
func escape(key string) string {
	if !strings.ContainsAny(key, "~/") {
		return key
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

// mapEdit collects the changes to one map[string]string in the object, so
// that a missing map is created by a single "add" of the whole map.
type mapEdit struct {
	path    string
	current map[string]string
	set     map[string]string
	remove  []string
}

func newMapEdit(path string, current map[string]string) *mapEdit {
	return &mapEdit{path: path, current: current}
}

// Set asks for key=value; it is a no-op when the map already holds it.
func (m *mapEdit) Set(key, value string) {
	if v, ok := m.current[key]; ok && v == value {
		return
	}
	if m.set == nil {
		m.set = map[string]string{}
	}
	m.set[key] = value
}

// Remove asks for key to go; it is a no-op when the map does not hold it.
func (m *mapEdit) Remove(key string) {
	if _, ok := m.current[key]; ok {
		m.remove = append(m.remove, key)
	}
}

func (m *mapEdit) Empty() bool { return len(m.set) == 0 && len(m.remove) == 0 }

// Apply appends the operations to p.
func (m *mapEdit) Apply(p Patch) Patch {
	if m.current == nil {
		if len(m.set) > 0 {
			p = append(p, Operation{Op: "add", Path: m.path, Value: m.set})
		}
		return p
	}
	for _, k := range sortedKeys(m.set) {
		p = append(p, Operation{Op: "add", Path: m.path + "/" + escape(k), Value: m.set[k]})
	}
	for _, k := range m.remove {
		p = append(p, Operation{Op: "remove", Path: m.path + "/" + escape(k)})
	}
	return p
}
