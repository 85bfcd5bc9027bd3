package gcp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

// AddServiceAccount creates a Google service account with an empty policy
// (etag "ACAB"). Adding one that exists changes nothing.
func (s *Server) AddServiceAccount(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	email = strings.ToLower(email)
	if s.accounts[email] == nil {
		s.accounts[email] = &account{policy: Policy{Etag: emptyEtag}}
	}
}

// DeleteServiceAccount deletes a service account and its policy.
func (s *Server) DeleteServiceAccount(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.accounts, strings.ToLower(email))
}

// ServiceAccounts returns the emails of all service accounts, sorted.
func (s *Server) ServiceAccounts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.accounts))
	for e := range s.accounts {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// EnablePool makes a workload pool ("PROJECT.svc.id.goog") exist, as
// enabling Workload Identity on a GKE cluster of the project does.
func (s *Server) EnablePool(pool string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pools[pool] = true
}

// DisablePool makes a workload pool disappear again.
func (s *Server) DisablePool(pool string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pools, pool)
}

// Policy returns a copy of a service account's policy at version 3, with
// its etag; ok is false if the account does not exist.
func (s *Server) Policy(email string) (p Policy, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[strings.ToLower(email)]
	if a == nil {
		return Policy{}, false
	}
	return a.policy.view(3), true
}

// SetPolicy writes a service account's policy out of band (drift, foreign
// bindings, members of pools that do not exist), as another tool would,
// without any check. The etag moves; p.Etag is ignored.
func (s *Server) SetPolicy(email string, p Policy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[strings.ToLower(email)]
	if a == nil {
		return fmt.Errorf("service account %s does not exist; add it first", email)
	}
	s.write(a, p.Clone())
	return nil
}

// Deny makes every call on a service account answer 403 PERMISSION_DENIED
// (denied true), as for a caller without iam.serviceAccounts.getIamPolicy.
func (s *Server) Deny(email string, denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[strings.ToLower(email)]; a != nil {
		a.denied = denied
	}
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f fakecloud.Faults) { s.faults.Set(f) }

// Calls returns the number of calls so far by operation (OpGetIamPolicy,
// OpSetIamPolicy), faulted ones included.
func (s *Server) Calls() map[string]int { return s.calls.Snapshot() }
