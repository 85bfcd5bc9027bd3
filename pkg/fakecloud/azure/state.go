package azure

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// MaxCredentials is how many federated credentials Azure allows per identity.
const MaxCredentials = 20

// nameRule is the service's rule for credential names (TypeSpec FederatedIdentityCredential.tsp).
var nameRule = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$`)

// Identity is a user-assigned managed identity held by the simulator.
type Identity struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
	ClientID       string
	PrincipalID    string
	TenantID       string
}

// ID is the identity's resource ID as the service returns it.
func (i Identity) ID() string { return identityID(i.SubscriptionID, i.ResourceGroup, i.Name) }

// Credential is a federated identity credential held by the simulator.
type Credential struct {
	// ID is set by the simulator; ignored when seeding.
	ID        string
	Name      string
	Issuer    string
	Subject   string
	Audiences []string
}

type identity struct {
	Identity
	creds map[string]*credential // by lower-case name: ARM names are case-insensitive
}

type credential struct {
	name                string
	props               credentialProps
	created, lastChange time.Time
}

// key is how ARM compares resource paths: case-insensitively.
func key(sub, rg, name string) string { return strings.ToLower(sub + "/" + rg + "/" + name) }

// guid derives a stable GUID-shaped string, so repeated runs print the same IDs.
func guid(seed string) string {
	h := sha256.Sum256([]byte(seed))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func (c *credential) json(id *identity) credentialJSON {
	return credentialJSON{
		ID:         id.ID() + "/federatedIdentityCredentials/" + c.name,
		Name:       c.name,
		Type:       credentialType,
		Properties: credentialProps{Issuer: c.props.Issuer, Subject: c.props.Subject, Audiences: slices.Clone(c.props.Audiences)},
		SystemData: systemData{CreatedAt: c.created, LastModifiedAt: c.lastChange},
	}
}

func (c *credential) public(id *identity) Credential {
	j := c.json(id)
	return Credential{ID: j.ID, Name: j.Name, Issuer: j.Properties.Issuer, Subject: j.Properties.Subject, Audiences: j.Properties.Audiences}
}

// put creates or replaces a credential under the service's rules. Callers hold s.mu.
func (s *Server) put(sub, rg, idName, name string, p *credentialProps) (created bool, c *credential, err *cloudError) {
	id := s.identities[key(sub, rg, idName)]
	switch {
	case id == nil:
		return false, nil, parentMissing()
	case !nameRule.MatchString(name):
		return false, nil, newError(http.StatusBadRequest, "BadRequest", "Federated Identity Credential name '%s' is invalid.", name)
	case p == nil:
		return false, nil, newError(http.StatusBadRequest, "BadRequest", "Federated Identity Credential '%s' has empty properties.", name)
	case p.Issuer == "" || p.Subject == "":
		return false, nil, newError(http.StatusBadRequest, "BadRequest",
			"The request format was unexpected. Federated Identity Credential must specify 'issuer', 'subject' and 'audience'.")
	case len(p.Audiences) != 1:
		return false, nil, newError(http.StatusBadRequest, "BadRequest", "Federated identity credentials must have exactly one audience.")
	}
	k := strings.ToLower(name)
	for otherKey, other := range id.creds {
		if otherKey != k && other.props.Issuer == p.Issuer && other.props.Subject == p.Subject {
			return false, nil, newError(http.StatusBadRequest, "BadRequest", "Issuer and subject combination already exists for this Managed Identity.")
		}
	}
	now := time.Now().UTC()
	c, exists := id.creds[k]
	if !exists {
		if len(id.creds) >= MaxCredentials {
			return false, nil, newError(http.StatusBadRequest, "BadRequest",
				"The managed identity '%s' already has the maximum of %d Federated Identity Credentials. Delete an existing one before adding another.",
				id.ID(), MaxCredentials)
		}
		c = &credential{name: name, created: now}
		id.creds[k] = c
	}
	c.props = credentialProps{Issuer: p.Issuer, Subject: p.Subject, Audiences: slices.Clone(p.Audiences)}
	c.lastChange = now
	return !exists, c, nil
}

// sortedCreds returns an identity's credentials ordered by lower-case name, the paging order.
func sortedCreds(id *identity) []*credential {
	out := make([]*credential, 0, len(id.creds))
	for _, k := range slices.Sorted(maps.Keys(id.creds)) {
		out = append(out, id.creds[k])
	}
	return out
}
