package gcp

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestGetIamPolicyErrors(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		deny       bool
		wantCode   int
		wantStatus string
		wantMsg    string
	}{
		{"unknown account", "/v1/projects/-/serviceAccounts/nobody@demo-project.iam.gserviceaccount.com:getIamPolicy", false,
			404, "NOT_FOUND", "Not found; Gaia id not found for email nobody@demo-project.iam.gserviceaccount.com"},
		{"other project", "/v1/projects/other-project/serviceAccounts/" + email + ":getIamPolicy", false, 404, "NOT_FOUND", "Gaia id not found"},
		{"unknown verb", resource + ":testIamPermissions", false, 404, "NOT_FOUND", "was not found"},
		{"bad version", resource + ":getIamPolicy?options.requestedPolicyVersion=2", false, 400, "INVALID_ARGUMENT", "requested_policy_version"},
		{"denied", resource + ":getIamPolicy", true, 403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getIamPolicy' denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer()
			s.Deny(email, tt.deny)
			code, body := post(t, s, tt.path, "")
			if code != tt.wantCode {
				t.Fatalf("code = %d, want %d (%s)", code, tt.wantCode, body)
			}
			e := decodeError(t, code, body)
			if e.Status != tt.wantStatus || !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("error = %s %q, want %s containing %q", e.Status, e.Message, tt.wantStatus, tt.wantMsg)
			}
		})
	}
}

func TestGetIamPolicyVersions(t *testing.T) {
	plain := Binding{Role: role, Members: []string{member}}
	tests := []struct {
		name        string
		bindings    []Binding
		requested   string
		wantVersion int
		wantRole    string // role of the last binding
		wantCond    bool
	}{
		{"empty", nil, "3", 0, "", false},
		{"plain at 3", []Binding{plain}, "3", 1, role, false},
		{"plain at 1", []Binding{plain}, "1", 1, role, false},
		{"conditional at 3", []Binding{plain, conditional}, "3", 3, conditional.Role, true},
		{"conditional at 1 hides the condition", []Binding{plain, conditional}, "1", 1, conditional.Role + "_withcond_", false},
		{"conditional unversioned", []Binding{plain, conditional}, "", 1, conditional.Role + "_withcond_", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer()
			if tt.bindings != nil {
				if err := s.SetPolicy(email, Policy{Bindings: tt.bindings}); err != nil {
					t.Fatal(err)
				}
			}
			p := get(t, s, tt.requested)
			if p.Version != tt.wantVersion {
				t.Errorf("version = %d, want %d", p.Version, tt.wantVersion)
			}
			if tt.bindings == nil {
				if p.Etag != "ACAB" || len(p.Bindings) != 0 {
					t.Errorf("empty policy = %+v, want only etag ACAB", p)
				}
				return
			}
			last := p.Bindings[len(p.Bindings)-1]
			if !strings.HasPrefix(last.Role, tt.wantRole) || (last.Condition != nil) != tt.wantCond {
				t.Errorf("last binding = %+v, want role %q, condition %v", last, tt.wantRole, tt.wantCond)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name       string
		throttle   float64
		server     float64
		wantCode   []int
		wantStatus []string
		wantMsg    string
	}{
		{"throttle", 1, 0, []int{429}, []string{"RESOURCE_EXHAUSTED"}, "Quota exceeded for quota metric 'Write requests'"},
		{"server error", 0, 1, []int{500, 503}, []string{"INTERNAL", "UNAVAILABLE"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer()
			before := get(t, s, "3")
			s.SetFaults(faults(tt.throttle, tt.server, 0))
			for range 10 {
				code, body := set(t, s, Policy{Bindings: []Binding{{Role: role, Members: []string{member}}}, Etag: before.Etag})
				e := decodeError(t, code, body)
				i := slices.Index(tt.wantCode, code)
				if i < 0 || e.Status != tt.wantStatus[i] || !strings.Contains(e.Message, tt.wantMsg) {
					t.Fatalf("set = %d %s %q, want one of %v %v containing %q", code, e.Status, e.Message, tt.wantCode, tt.wantStatus, tt.wantMsg)
				}
			}
			s.SetFaults(faults(0, 0, 0))
			if after := get(t, s, "3"); after.Etag != before.Etag || len(after.Bindings) != 0 {
				t.Errorf("policy after faulted sets = %+v, want unchanged", after)
			}
			if got := s.Calls(); got[OpSetIamPolicy] != 10 || got[OpGetIamPolicy] != 2 {
				t.Errorf("calls = %v, want 10 sets and 2 gets", got)
			}
		})
	}
}

func TestUnknownPath(t *testing.T) {
	code, body := post(t, New(), "/v2/whatever", "")
	if code != http.StatusNotFound {
		t.Fatalf("code = %d, want 404", code)
	}
	decodeError(t, code, body)
}
