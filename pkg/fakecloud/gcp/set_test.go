package gcp

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestSetIamPolicy(t *testing.T) {
	plain := Binding{Role: role, Members: []string{member}}
	tests := []struct {
		name     string
		seed     []Binding
		conflict float64
		req      func(cur Policy) Policy // from the version-3 read
		wantCode int
		wantMsg  string                           // error message prefix
		check    func(t *testing.T, after Policy) // on success
	}{
		{name: "add with etag", wantCode: 200,
			req: func(cur Policy) Policy { cur.Bindings = append(cur.Bindings, plain); return cur },
			check: func(t *testing.T, after Policy) {
				if !reflect.DeepEqual(after.Bindings, []Binding{plain}) || after.Version != 1 {
					t.Errorf("after = %+v, want version 1 with %+v", after, plain)
				}
			}},
		{name: "stale etag", wantCode: 409,
			req: func(cur Policy) Policy { cur.Etag = "BwAAAAAAAAA="; cur.Bindings = []Binding{plain}; return cur },
			wantMsg: "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. " +
				"The request's ETag 'BwAAAAAAAAA=' did not match the current policy's ETag 'ACAB'."},
		{name: "no etag is unconditional", wantCode: 200,
			req: func(Policy) Policy { return Policy{Bindings: []Binding{plain}} }},
		{name: "missing pool fails the whole set", wantCode: 400,
			req: func(cur Policy) Policy {
				cur.Bindings = []Binding{{Role: role, Members: []string{member, "serviceAccount:other-project.svc.id.goog[ns/sa]"}}}
				return cur
			},
			wantMsg: "Identity Pool does not exist (other-project.svc.id.goog). Please check that you specified a valid resource name as returned in the `name` attribute in the configuration API."},
		{name: "conditions need version 3", wantCode: 400,
			req:     func(cur Policy) Policy { cur.Version = 1; cur.Bindings = []Binding{conditional}; return cur },
			wantMsg: "Specified policy version (1) cannot hold conditional role bindings"},
		{name: "stored conditions refuse version 1", seed: []Binding{conditional}, wantCode: 400,
			req:     func(cur Policy) Policy { cur.Version = 1; cur.Bindings = []Binding{plain}; return cur },
			wantMsg: "Specified policy version (1) cannot be less than the existing policy version (3)."},
		{name: "blind set drops conditions", seed: []Binding{conditional}, wantCode: 200,
			req: func(Policy) Policy { return Policy{Version: 1, Bindings: []Binding{plain}} },
			check: func(t *testing.T, after Policy) {
				if after.HasConditions() || after.Version != 1 {
					t.Errorf("after = %+v, want version 1 without conditions", after)
				}
			}},
		{name: "conditions kept at version 3", seed: []Binding{conditional}, wantCode: 200,
			req: func(cur Policy) Policy { cur.Bindings = append(cur.Bindings, plain); return cur },
			check: func(t *testing.T, after Policy) {
				if !reflect.DeepEqual(after.Bindings, []Binding{conditional, plain}) || after.Version != 3 {
					t.Errorf("after = %+v, want version 3 with the condition intact", after)
				}
			}},
		{name: "empty bindings dropped, duplicates merged", wantCode: 200,
			req: func(cur Policy) Policy {
				cur.Bindings = []Binding{{Role: "roles/viewer"}, {Role: role, Members: []string{member, member}}, {Role: role, Members: []string{"user:a@example.com"}}}
				return cur
			},
			check: func(t *testing.T, after Policy) {
				want := []Binding{{Role: role, Members: []string{member, "user:a@example.com"}}}
				if !reflect.DeepEqual(after.Bindings, want) {
					t.Errorf("bindings = %+v, want %+v", after.Bindings, want)
				}
			}},
		{name: "injected conflict moves the etag", conflict: 1, wantCode: 409,
			req:     func(cur Policy) Policy { cur.Bindings = []Binding{plain}; return cur },
			wantMsg: "There were concurrent policy changes."},
		{name: "injected conflict spares unconditional sets", conflict: 1, wantCode: 200,
			req: func(Policy) Policy { return Policy{Bindings: []Binding{plain}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer()
			if tt.seed != nil {
				if err := s.SetPolicy(email, Policy{Bindings: tt.seed}); err != nil {
					t.Fatal(err)
				}
			}
			before := get(t, s, "3")
			s.SetFaults(faults(0, 0, tt.conflict))
			code, body := set(t, s, tt.req(before.Clone()))
			s.SetFaults(faults(0, 0, 0))
			after := get(t, s, "3")
			if code != tt.wantCode {
				t.Fatalf("code = %d, want %d (%s)", code, tt.wantCode, body)
			}
			if code != http.StatusOK {
				e := decodeError(t, code, body)
				if !strings.HasPrefix(e.Message, tt.wantMsg) {
					t.Errorf("message = %q, want prefix %q", e.Message, tt.wantMsg)
				}
				if moved := after.Etag != before.Etag; moved != (tt.conflict > 0) {
					t.Errorf("etag moved = %v after a refused set, want %v", moved, tt.conflict > 0)
				}
				if !reflect.DeepEqual(after.Bindings, before.Bindings) {
					t.Errorf("bindings after a refused set = %+v, want %+v", after.Bindings, before.Bindings)
				}
				return
			}
			if after.Etag == before.Etag || after.Etag == "" {
				t.Errorf("etag = %q after a write, want a new one (was %q)", after.Etag, before.Etag)
			}
			if tt.check != nil {
				tt.check(t, after)
			}
		})
	}
}

func TestSetIamPolicyBadBody(t *testing.T) {
	tests := []struct{ name, body, wantMsg string }{
		{"not JSON", "{", "Invalid JSON payload received."},
		{"no policy", "{}", "Request contains an invalid argument"},
		{"bad mask", `{"policy":{},"updateMask":"owners"}`, "Invalid update mask path"},
		{"bad version", `{"policy":{"version":2}}`, "Invalid policy version (2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, newServer(), resource+":setIamPolicy", tt.body)
			if code != http.StatusBadRequest {
				t.Fatalf("code = %d, want 400 (%s)", code, body)
			}
			if e := decodeError(t, code, body); e.Status != "INVALID_ARGUMENT" || !strings.HasPrefix(e.Message, tt.wantMsg) {
				t.Errorf("error = %s %q, want INVALID_ARGUMENT %q", e.Status, e.Message, tt.wantMsg)
			}
		})
	}
}
