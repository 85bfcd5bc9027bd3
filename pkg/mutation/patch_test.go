package mutation

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestPatchJSON: Patch.JSON writes what encoding/json writes, escapes
// included.
func TestPatchJSON(t *testing.T) {
	tests := []struct {
		name  string
		patch Patch
	}{
		{"string", Patch{{Op: "add", Path: "/metadata/annotations/keyless.dev~1injected", Value: "a,b"}}},
		{"remove", Patch{{Op: "remove", Path: "/spec/template/spec/serviceAccountName"}}},
		{"empty string", Patch{{Op: "add", Path: "/a", Value: ""}}},
		{"map", Patch{{Op: "add", Path: "/m", Value: map[string]string{"b": "2", "a": "<1>", "é": "\u2028"}}}},
		{"nil map", Patch{{Op: "add", Path: "/m", Value: map[string]string(nil)}}},
		{"escapes", Patch{{Op: "add", Path: "/\"q\"\\&", Value: "line\nbreak\t\x01\x7f\xff"}}},
		{"list", Patch{{Op: "add", Path: "/metadata/finalizers", Value: []string{"keyless.dev/cloud-cleanup", "<&>", "é"}}}},
		{"nil and empty lists", Patch{{Op: "add", Path: "/l", Value: []string(nil)}, {Op: "add", Path: "/e", Value: []string{}}}},
		{"other value", Patch{{Op: "add", Path: "/n", Value: 3}, {Op: "add", Path: "/b", Value: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.patch.JSON()
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal([]Operation(tt.patch))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("JSON() = %s\nencoding/json: %s", got, want)
			}
		})
	}
	if raw, err := Patch(nil).JSON(); raw != nil || err != nil {
		t.Errorf("empty patch: %q, %v", raw, err)
	}
}
