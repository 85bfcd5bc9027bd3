// Package azure connects Kubernetes ServiceAccounts to Azure user-assigned
// managed identities with federated identity credentials.
//
// Each connection gets one credential with a deterministic name (see
// CredentialName), so a crash between a write and its recording can neither
// lose nor duplicate one: every Ensure reads it by name first and writes
// only when it is missing or has drifted (a first sync costs two calls, a
// resync one), so one redone after a crash or a change of leader writes
// nothing twice. A credential someone else made for the same issuer and
// subject is adopted and left as it is; Azure refuses the write then, and a
// listing finds it.
//
// Azure rejects concurrent writes to the credentials of one identity, so
// calls per identity are serialised here, while other identities proceed in
// parallel. Calls for one identity that arrive while another is in flight
// are handled together next: one listing of the credentials serves all of
// them, and the identity's client ID is read once, then cached for an hour.
//
// The armmsi clients are bound to a subscription, which ServiceAccount
// annotations choose; those of the 64 subscriptions used last are kept.
package azure

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/batch"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/keyed"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/recent"
)

// Audience is the token audience Azure workload identity uses.
const Audience = "api://AzureADTokenExchange"

// Provider is the Azure cloud.Provider.
type Provider struct {
	subscription string
	issuer       string
	cluster      string
	clients      clientsFor
	locks        keyed.Locks
	batches      batch.Batcher[op]
	// reads holds, per identity, its credentials as last listed and
	// written, for Options.ReadReuse.
	reads   recent.Reads[[]*armmsi.FederatedIdentityCredential]
	timeout time.Duration // of each Ensure and Remove, and of each batch
	now     func() time.Time

	mu        sync.Mutex
	clientIDs map[string]cachedClientID // by identity key
}

// clientIDTTL bounds how long a client ID is trusted: an identity deleted
// and made again under its name gets a new one.
const clientIDTTL = time.Hour

type cachedClientID struct {
	id      string
	expires time.Time
}

var _ cloud.Provider = (*Provider)(nil)

// New validates o and returns a provider using the real Azure SDK.
func New(o Options) (*Provider, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("invalid Azure provider options: %w", err)
	}
	opts := o.clientOptions()
	cred := o.Credential
	if cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: opts.ClientOptions, TenantID: o.TenantID,
		})
		if err != nil {
			return nil, fmt.Errorf("creating Azure credential (workload identity, environment or managed identity): %w", err)
		}
		cred = c
	}
	return newProvider(o, sdkClients(cred, opts).get), nil
}

// newProvider is the test seam: clients may be fakes of the SDK methods used.
func newProvider(o Options, clients clientsFor) *Provider {
	p := &Provider{
		subscription: o.SubscriptionID,
		issuer:       o.IssuerURL,
		cluster:      o.ClusterName,
		clients:      clients,
		timeout:      deadline.Or(o.Timeout),
		now:          time.Now,
		clientIDs:    map[string]cachedClientID{},
	}
	p.batches.Run, p.batches.Timeout = p.commit, p.timeout
	p.reads.TTL = o.ReadReuse
	return p
}

// target is what one call works on.
type target struct {
	sub, rg, identity string
	key               string // case-insensitive, as ARM compares
	name, subject     string
	known             string // cloud.Connection.KnownID, a hint
	api               armClients
}

func (t target) String() string { return t.rg + "/" + t.identity }

// credentialID is the resource ID of the identity's credential called
// name, in the form Azure returns.
func (t target) credentialID(name string) string {
	return t.credentialsID() + name
}

func (t target) credentialsID() string {
	return fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s/federatedIdentityCredentials/",
		t.sub, t.rg, t.identity)
}

// idOf is the ID Azure gave, or the one it would have, of credential name.
func (t target) idOf(id *string, name string) string {
	if s := deref(id); s != "" {
		return s
	}
	return t.credentialID(name)
}

// knownName is the name of the credential t.known names: "" when t.known
// is empty; Keyless's own name when t.known is not a credential of t's identity.
func (t target) knownName() string {
	prefix := t.credentialsID()
	switch {
	case t.known == "":
		return ""
	case len(t.known) > len(prefix) && strings.EqualFold(t.known[:len(prefix)], prefix) && !strings.Contains(t.known[len(prefix):], "/"):
		return t.known[len(prefix):]
	}
	return t.name
}

func (p *Provider) target(c cloud.Connection) (target, error) {
	a := c.Azure
	if a == nil || a.ResourceGroup == "" || a.Name == "" || c.Subject.Namespace == "" || c.Subject.Name == "" {
		return target{}, fmt.Errorf("connection of %s/%s names no complete Azure identity (resource group and name): %w",
			c.Subject.Namespace, c.Subject.Name, cloud.ErrInvalid)
	}
	t := target{sub: a.SubscriptionID, rg: a.ResourceGroup, identity: a.Name,
		name:    CredentialName(p.cluster, c.Subject.Namespace, c.Subject.Name),
		subject: "system:serviceaccount:" + c.Subject.Namespace + ":" + c.Subject.Name, known: c.KnownID}
	if t.sub == "" {
		t.sub = p.subscription
	}
	t.key = strings.ToLower(t.sub + "/" + t.rg + "/" + t.identity)
	api, err := p.clients(t.sub)
	if err != nil {
		return target{}, err
	}
	t.api = api
	return t, nil
}

// clientID returns the identity's client ID, asking Azure at most once per
// clientIDTTL unless Azure says the identity is gone.
func (p *Provider) clientID(ctx context.Context, t target) (string, error) {
	p.mu.Lock()
	id, ok := p.clientIDs[t.key]
	p.mu.Unlock()
	if ok && p.now().Before(id.expires) {
		return id.id, nil
	}
	resp, err := t.api.identities.Get(ctx, t.rg, t.identity, nil)
	if err != nil {
		return "", p.classify(err, t, "reading managed identity "+t.String())
	}
	if resp.Properties == nil || resp.Properties.ClientID == nil || *resp.Properties.ClientID == "" {
		return "", fmt.Errorf("managed identity %s has no client ID in Azure's answer; retrying later", t)
	}
	p.mu.Lock()
	p.clientIDs[t.key] = cachedClientID{id: *resp.Properties.ClientID, expires: p.now().Add(clientIDTTL)}
	p.mu.Unlock()
	return *resp.Properties.ClientID, nil
}

// forget drops a cached client ID once Azure says the identity is gone.
func (p *Provider) forget(t target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.clientIDs, t.key)
	p.reads.Forget(t.key)
}
