package azure

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

// Seeding, inspection and faults, for tests and keyless-dev. These act out
// of band: no faults, no call counts, no write hold.

// AddIdentity adds an identity, or updates the client ID of an existing one
// (keeping its credentials). An empty clientID gets a derived one; the
// principal and tenant IDs are filled in.
func (s *Server) AddIdentity(subscription, resourceGroup, name, clientID string) Identity {
	k := key(subscription, resourceGroup, name)
	if clientID == "" {
		clientID = guid("client/" + k)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.identities[k]
	if id == nil {
		id = &identity{creds: map[string]*credential{}}
		id.Identity = Identity{SubscriptionID: subscription, ResourceGroup: resourceGroup, Name: name,
			PrincipalID: guid("principal/" + k), TenantID: s.tenantID}
		s.identities[k] = id
	}
	id.ClientID = clientID
	return id.Identity
}

// RemoveIdentity deletes an identity with its credentials; false if there was none.
func (s *Server) RemoveIdentity(subscription, resourceGroup, name string) bool {
	k := key(subscription, resourceGroup, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.identities[k]
	delete(s.identities, k)
	return ok
}

// Identities returns every identity, ordered by resource ID.
func (s *Server) Identities() []Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Identity, 0, len(s.identities))
	for _, id := range s.identities {
		out = append(out, id.Identity)
	}
	slices.SortFunc(out, func(a, b Identity) int { return cmp.Compare(strings.ToLower(a.ID()), strings.ToLower(b.ID())) })
	return out
}

// Credentials returns copies of an identity's credentials in name order, nil
// when the identity does not exist.
func (s *Server) Credentials(subscription, resourceGroup, identity string) []Credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.identities[key(subscription, resourceGroup, identity)]
	if id == nil {
		return nil
	}
	out := []Credential{}
	for _, c := range sortedCreds(id) {
		out = append(out, c.public(id))
	}
	return out
}

// PutCredential creates or replaces a credential as someone else would:
// a foreign credential, or drift. The service's rules apply (name, one
// audience, issuer+subject unique, 20 at most).
func (s *Server) PutCredential(subscription, resourceGroup, identity string, c Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &credentialProps{Issuer: c.Issuer, Subject: c.Subject, Audiences: slices.Clone(c.Audiences)}
	if _, _, err := s.put(subscription, resourceGroup, identity, c.Name, p); err != nil {
		return err
	}
	return nil
}

// DeleteCredential deletes a credential out of band; false if there was none.
func (s *Server) DeleteCredential(subscription, resourceGroup, identity, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.identities[key(subscription, resourceGroup, identity)]
	if id == nil {
		return false
	}
	k := strings.ToLower(name)
	_, ok := id.creds[k]
	delete(id.creds, k)
	return ok
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f fakecloud.Faults) { s.faults.Set(f) }

// SetWriteWindow sets how long a write holds its identity when the injected
// latency is shorter; zero (the default) holds it only for the latency.
func (s *Server) SetWriteWindow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window = d
}

// SetPageSize sets the list page size used when a request has no $top.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = max(n, 1)
}

// SetMaxPageSize caps every page, whatever $top asks for (0: no cap), as
// a server may: clients must follow nextLink.
func (s *Server) SetMaxPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxPageSize = max(n, 0)
}

// SetRetryAfter sets the Retry-After seconds sent with throttling errors.
func (s *Server) SetRetryAfter(seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = max(seconds, 1)
}

// Calls returns the requests received per operation (Op* names), faulted ones included.
func (s *Server) Calls() map[string]int {
	if m := s.calls.Snapshot(); m != nil {
		return m
	}
	return map[string]int{}
}

// Overlaps returns how many writes arrived while another write to the same
// identity was in flight (and got the 409). Injected Conflict faults are not counted.
func (s *Server) Overlaps() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overlaps
}

// Written counts the PUTs of credentials that were applied, a rewrite of
// an unchanged credential included: unlike the PutCredential calls, not
// those refused (faults, overlaps) or cut off before their body arrived
// (a client killed mid-request).
func (s *Server) Written() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}
