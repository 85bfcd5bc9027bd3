package azure

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// MaxCredentials is how many federated credentials Azure allows per identity.
const MaxCredentials = 20

// Ensure creates, corrects or adopts the federated credential of c.
func (p *Provider) Ensure(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	t, err := p.target(c)
	if err != nil {
		return cloud.Result{}, err
	}
	// Held for the whole read-decide-write, so our own writes to one
	// identity never race (Azure would answer 409) and the count is right.
	unlock, err := p.locks.lock(ctx, t.key)
	if err != nil {
		return cloud.Result{}, fmt.Errorf("waiting for other writes to managed identity %s: %w", t, err)
	}
	defer unlock()

	clientID, err := p.clientID(ctx, t)
	if err != nil {
		return cloud.Result{}, err
	}
	res, err := p.ensure(ctx, t)
	if err != nil {
		return cloud.Result{}, err
	}
	res.ClientID = clientID
	return res, nil
}

func (p *Provider) ensure(ctx context.Context, t target) (cloud.Result, error) {
	got, err := t.api.credentials.Get(ctx, t.rg, t.identity, t.name, nil)
	switch {
	case err == nil && p.matches(got.FederatedIdentityCredential, t):
		return cloud.Result{Action: cloud.Unchanged, ID: deref(got.ID)}, nil
	case err == nil:
		return p.put(ctx, t, cloud.Updated)
	case !isNotFound(err):
		return cloud.Result{}, p.classify(err, t, "reading federated credential "+t.name+" of managed identity "+t.String())
	}

	all, err := p.list(ctx, t)
	if err != nil {
		return cloud.Result{}, err
	}
	if c := p.find(all, t); c != nil {
		return cloud.Result{Action: cloud.Adopted, ID: deref(c.ID)}, nil
	}
	if len(all) >= MaxCredentials {
		return cloud.Result{}, fmt.Errorf("managed identity %s already has %d federated credentials, the most Azure allows; "+
			"remove unused ones or use another identity: %w", t, len(all), cloud.ErrLimit)
	}
	return p.put(ctx, t, cloud.Created)
}

// put writes the wanted credential; when Azure says another credential holds
// the issuer and subject (a write we did not see), that one is adopted.
func (p *Provider) put(ctx context.Context, t target, action cloud.Action) (cloud.Result, error) {
	want := armmsi.FederatedIdentityCredential{Properties: &armmsi.FederatedIdentityCredentialProperties{
		Audiences: []*string{to.Ptr(Audience)}, Issuer: to.Ptr(p.issuer), Subject: to.Ptr(t.subject),
	}}
	doing := "writing federated credential " + t.name + " of managed identity " + t.String()
	resp, err := t.api.credentials.CreateOrUpdate(ctx, t.rg, t.identity, t.name, want, nil)
	if err == nil {
		return cloud.Result{Action: action, ID: deref(resp.ID)}, nil
	}
	if !combinationExists(err) {
		return cloud.Result{}, p.classify(err, t, doing)
	}
	all, lerr := p.list(ctx, t)
	if lerr != nil {
		return cloud.Result{}, lerr
	}
	if c := p.find(all, t); c != nil {
		return cloud.Result{Action: cloud.Adopted, ID: deref(c.ID)}, nil
	}
	// The other credential went away meanwhile: the next try will write ours.
	return cloud.Result{}, fmt.Errorf("%s: Azure reported the issuer and subject taken, but no credential holds them now; retrying later: %w", doing, err)
}

// list returns every credential of the identity, following nextLink.
func (p *Provider) list(ctx context.Context, t target) ([]*armmsi.FederatedIdentityCredential, error) {
	var all []*armmsi.FederatedIdentityCredential
	pager := t.api.credentials.NewListPager(t.rg, t.identity, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, p.classify(err, t, "listing federated credentials of managed identity "+t.String())
		}
		all = append(all, page.Value...)
	}
	return all, nil
}

// matches reports whether c is exactly the credential Keyless wants for t.
func (p *Provider) matches(c armmsi.FederatedIdentityCredential, t target) bool {
	pr := c.Properties
	return pr != nil && deref(pr.Issuer) == p.issuer && deref(pr.Subject) == t.subject &&
		len(pr.Audiences) == 1 && deref(pr.Audiences[0]) == Audience
}

// find returns the credential trusting t's issuer and subject, whatever its name.
func (p *Provider) find(all []*armmsi.FederatedIdentityCredential, t target) *armmsi.FederatedIdentityCredential {
	for _, c := range all {
		if c != nil && c.Properties != nil && deref(c.Properties.Issuer) == p.issuer && deref(c.Properties.Subject) == t.subject {
			return c
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
