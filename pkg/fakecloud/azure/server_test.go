package azure

import (
	"net/http"
	"strings"
	"testing"
)

func TestIdentityGet(t *testing.T) {
	_, hs := newTestServer(t)
	tests := []struct {
		name, path string
		status     int
		code       string
	}{
		{"found", identityPath() + v, http.StatusOK, ""},
		{"segments in any case", strings.ToUpper(identityPath()) + v, http.StatusOK, ""},
		{"missing", strings.Replace(identityPath(), uami, "nope", 1) + v, http.StatusNotFound, "ResourceNotFound"},
		{"other provider", strings.Replace(identityPath(), "Microsoft.ManagedIdentity", "Microsoft.Web", 1) + v, http.StatusNotFound, "InvalidResourceType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, hs, http.MethodGet, tt.path, "")
			if r.status != tt.status || r.errorCode() != tt.code {
				t.Fatalf("got %d %q, want %d %q", r.status, r.errorCode(), tt.status, tt.code)
			}
			if tt.status != http.StatusOK {
				return
			}
			if got := r.str("properties", "clientId"); got != "11111111-1111-1111-1111-111111111111" {
				t.Errorf("clientId = %q", got)
			}
			if r.str("properties", "principalId") == "" || r.str("properties", "tenantId") == "" {
				t.Errorf("principalId or tenantId empty: %v", r.body)
			}
			if id := r.str("id"); !strings.Contains(id, "/resourcegroups/"+rg+"/") {
				t.Errorf("id %q should hold lower-case resourcegroups", id)
			}
		})
	}
}

func TestAPIVersion(t *testing.T) {
	_, hs := newTestServer(t)
	tests := []struct {
		name, query string
		status      int
		code        string
	}{
		{"current", "?api-version=2024-11-30", http.StatusOK, ""},
		{"older GA", "?api-version=2023-01-31", http.StatusOK, ""},
		{"missing", "", http.StatusBadRequest, "MissingApiVersionParameter"},
		{"malformed", "?api-version=latest", http.StatusBadRequest, "InvalidApiVersionParameter"},
		{"unknown", "?api-version=2099-01-01", http.StatusBadRequest, "NoRegisteredProviderFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, hs, http.MethodGet, identityPath()+tt.query, "")
			if r.status != tt.status || r.errorCode() != tt.code {
				t.Errorf("got %d %q, want %d %q", r.status, r.errorCode(), tt.status, tt.code)
			}
			if tt.code != "" && r.errorMessage() == "" {
				t.Errorf("CloudError without a message: %v", r.body)
			}
		})
	}
}

func TestPutAndDelete(t *testing.T) {
	s, hs := newTestServer(t)
	if err := s.PutCredential(sub, rg, uami, Credential{Name: "taken", Issuer: issuer, Subject: "system:serviceaccount:a:taken", Audiences: []string{aud}}); err != nil {
		t.Fatal(err)
	}
	missingParent := strings.Replace(credPath("fic-one"), uami, "nope", 1)
	tests := []struct {
		name, method, path, body string
		status                   int
		message                  string
	}{
		{"create", http.MethodPut, credPath("fic-one"), putBodyFor("system:serviceaccount:a:one", aud), http.StatusCreated, ""},
		{"replace, name in other case", http.MethodPut, credPath("FIC-ONE"), putBodyFor("system:serviceaccount:a:one2", aud), http.StatusOK, ""},
		{"invalid name", http.MethodPut, credPath("-bad"), putBodyFor("system:serviceaccount:a:x", aud), http.StatusBadRequest, "Federated Identity Credential name '-bad' is invalid."},
		{"name too short", http.MethodPut, credPath("ab"), putBodyFor("system:serviceaccount:a:x", aud), http.StatusBadRequest, "Federated Identity Credential name 'ab' is invalid."},
		{"two audiences", http.MethodPut, credPath("fic-two"), putBodyFor("system:serviceaccount:a:x", aud, "other"), http.StatusBadRequest, "Federated identity credentials must have exactly one audience."},
		{"no audience", http.MethodPut, credPath("fic-two"), putBodyFor("system:serviceaccount:a:x"), http.StatusBadRequest, "Federated identity credentials must have exactly one audience."},
		{"issuer and subject taken", http.MethodPut, credPath("fic-two"), putBodyFor("system:serviceaccount:a:taken", aud), http.StatusBadRequest, "Issuer and subject combination already exists for this Managed Identity."},
		{"missing parent", http.MethodPut, missingParent, putBodyFor("system:serviceaccount:a:x", aud), http.StatusNotFound, "The parent user-assigned identity doesn't exist."},
		{"not JSON", http.MethodPut, credPath("fic-two"), "{", http.StatusBadRequest, ""},
		{"get", http.MethodGet, credPath("fic-one"), "", http.StatusOK, ""},
		{"delete", http.MethodDelete, credPath("fic-one"), "", http.StatusOK, ""},
		{"delete again", http.MethodDelete, credPath("fic-one"), "", http.StatusNoContent, ""},
		{"get deleted", http.MethodGet, credPath("fic-one"), "", http.StatusNotFound, ""},
		{"delete, missing parent", http.MethodDelete, missingParent, "", http.StatusNotFound, "The parent user-assigned identity doesn't exist."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, hs, tt.method, tt.path+v, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (%v)", r.status, tt.status, r.body)
			}
			if tt.message != "" && r.errorMessage() != tt.message {
				t.Errorf("message %q, want %q", r.errorMessage(), tt.message)
			}
			if tt.status >= 400 && r.errorCode() == "" {
				t.Errorf("no CloudError: %v", r.body)
			}
		})
	}
}

func TestPutReturnsResource(t *testing.T) {
	_, hs := newTestServer(t)
	r := call(t, hs, http.MethodPut, credPath("fic-one")+v, putBodyFor("system:serviceaccount:a:one", aud))
	wantID := "/subscriptions/" + sub + "/resourcegroups/" + rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + uami + "/federatedIdentityCredentials/fic-one"
	checks := map[string][2]string{
		"id":      {r.str("id"), wantID},
		"name":    {r.str("name"), "fic-one"},
		"type":    {r.str("type"), "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"},
		"issuer":  {r.str("properties", "issuer"), issuer},
		"subject": {r.str("properties", "subject"), "system:serviceaccount:a:one"},
	}
	for field, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", field, c[0], c[1])
		}
	}
}

func TestCredentialLimit(t *testing.T) {
	s, hs := newTestServer(t)
	for i := range MaxCredentials {
		name := "fic-" + string(rune('a'+i))
		if err := s.PutCredential(sub, rg, uami, Credential{Name: name, Issuer: issuer, Subject: "s" + name, Audiences: []string{aud}}); err != nil {
			t.Fatal(err)
		}
	}
	if r := call(t, hs, http.MethodPut, credPath("fic-extra")+v, putBodyFor("sx", aud)); r.status != http.StatusBadRequest || !strings.Contains(r.errorMessage(), "20") {
		t.Errorf("21st credential: %d %v, want 400 naming the limit", r.status, r.body)
	}
	if r := call(t, hs, http.MethodPut, credPath("fic-a")+v, putBodyFor("sx", aud)); r.status != http.StatusOK {
		t.Errorf("replacing one of 20: %d %v, want 200", r.status, r.body)
	}
}

// TestWrittenCountsAppliedPuts: a PUT whose body did not arrive whole (a
// client killed mid-request) is a call but writes nothing; a rewrite of
// an unchanged credential writes.
func TestWrittenCountsAppliedPuts(t *testing.T) {
	s, hs := newTestServer(t)
	cut := putBodyFor("system:serviceaccount:shop:web", aud)
	call(t, hs, http.MethodPut, credPath("web")+v, cut[:len(cut)/2])
	if got, calls := s.Written(), s.Calls()[OpPutCredential]; got != 0 || calls != 1 {
		t.Errorf("after a cut-off PUT: written %d, calls %d; want 0 and 1", got, calls)
	}
	for range 2 {
		if r := call(t, hs, http.MethodPut, credPath("web")+v, cut); r.status >= 300 {
			t.Fatalf("PUT: %d %s", r.status, r.errorMessage())
		}
	}
	if got := s.Written(); got != 2 {
		t.Errorf("written %d after two PUTs, want 2", got)
	}
}
