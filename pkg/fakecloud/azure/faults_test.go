package azure

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

func TestConcurrentWrites(t *testing.T) {
	tests := []struct {
		name         string
		otherUAMI    bool
		wantConflict int
	}{
		{"same identity", false, 1},
		{"different identities", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t)
			s.AddIdentity(sub, rg, "uami-other", "")
			s.SetWriteWindow(200 * time.Millisecond)
			paths := []string{credPath("fic-one"), credPath("fic-two")}
			if tt.otherUAMI {
				paths[1] = strings.Replace(paths[1], uami, "uami-other", 1)
			}
			replies := make([]reply, 2)
			var wg sync.WaitGroup
			for i, p := range paths {
				wg.Go(func() {
					replies[i] = call(t, hs, http.MethodPut, p+v, putBodyFor("system:serviceaccount:a:"+p[len(p)-3:], aud))
				})
				time.Sleep(20 * time.Millisecond) // the second arrives while the first holds
			}
			wg.Wait()
			conflicts := 0
			for _, r := range replies {
				if r.status == http.StatusConflict {
					conflicts++
					if r.errorCode() != "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity" ||
						!strings.Contains(r.errorMessage(), "/resourcegroups/rg-apps/providers/microsoft.managedidentity/userassignedidentities/uami-web") {
						t.Errorf("409 body: %v", r.body)
					}
				}
			}
			if conflicts != tt.wantConflict || s.Overlaps() != tt.wantConflict {
				t.Errorf("conflicts %d, overlaps %d, want %d", conflicts, s.Overlaps(), tt.wantConflict)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name, method string
		faults       fakecloud.Faults
		status       int
		code         string
	}{
		{"throttle", http.MethodGet, fakecloud.Faults{Throttle: 1}, http.StatusTooManyRequests, "TooManyRequests"},
		{"server error on write", http.MethodPut, fakecloud.Faults{ServerError: 1}, http.StatusInternalServerError, "InternalServerError"},
		{"conflict on write", http.MethodPut, fakecloud.Faults{Conflict: 1}, http.StatusConflict, "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity"},
		{"conflict spares reads", http.MethodGet, fakecloud.Faults{Conflict: 1}, http.StatusNotFound, "ResourceNotFound"},
		{"latency", http.MethodPut, fakecloud.Faults{Latency: 30 * time.Millisecond}, http.StatusCreated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t)
			s.SetFaults(tt.faults)
			start := time.Now()
			r := call(t, hs, tt.method, credPath("fic-one")+v, putBodyFor("system:serviceaccount:a:one", aud))
			if r.status != tt.status || r.errorCode() != tt.code {
				t.Fatalf("got %d %q, want %d %q", r.status, r.errorCode(), tt.status, tt.code)
			}
			if tt.status == http.StatusTooManyRequests && r.header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", r.header.Get("Retry-After"))
			}
			if tt.faults.Latency > 0 && time.Since(start) < tt.faults.Latency {
				t.Errorf("answered in %v, before the latency of %v", time.Since(start), tt.faults.Latency)
			}
			wantCreds := 0
			if tt.status == http.StatusCreated {
				wantCreds = 1
			}
			if n := len(s.Credentials(sub, rg, uami)); n != wantCreds {
				t.Errorf("%d credentials after the call, want %d", n, wantCreds)
			}
			if s.Overlaps() != 0 {
				t.Errorf("injected faults counted as overlaps: %d", s.Overlaps())
			}
		})
	}
}

func TestCallsAndSeeding(t *testing.T) {
	s, hs := newTestServer(t)
	call(t, hs, http.MethodGet, identityPath()+v, "")
	call(t, hs, http.MethodPut, credPath("fic-one")+v, putBodyFor("system:serviceaccount:a:one", aud))
	call(t, hs, http.MethodGet, identityPath()+"/federatedIdentityCredentials"+v, "")
	call(t, hs, http.MethodDelete, credPath("fic-one")+v, "")
	call(t, hs, http.MethodDelete, credPath("fic-one")+v, "")
	want := map[string]int{OpGetIdentity: 1, OpPutCredential: 1, OpListCredentials: 1, OpDeleteCredential: 2}
	got := s.Calls()
	for op, n := range want {
		if got[op] != n {
			t.Errorf("Calls()[%s] = %d, want %d (all: %v)", op, got[op], n, got)
		}
	}

	if err := s.PutCredential(sub, rg, uami, Credential{Name: "x", Issuer: issuer, Subject: "s", Audiences: []string{aud}}); err == nil {
		t.Error("seeding an invalid name succeeded")
	}
	if err := s.PutCredential(sub, rg, uami, Credential{Name: "foreign", Issuer: issuer, Subject: "s", Audiences: []string{aud}}); err != nil {
		t.Fatal(err)
	}
	creds := s.Credentials(sub, rg, uami)
	creds[0].Audiences[0] = "changed by the caller"
	if got := s.Credentials(sub, rg, uami)[0].Audiences[0]; got != aud {
		t.Errorf("Credentials shares memory with the simulator: audience now %q", got)
	}
	if !s.DeleteCredential(sub, rg, uami, "FOREIGN") || s.DeleteCredential(sub, rg, uami, "foreign") {
		t.Error("DeleteCredential should delete case-insensitively, once")
	}
	if s.Credentials(sub, rg, "nope") != nil {
		t.Error("Credentials of a missing identity should be nil")
	}
}
