package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"

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
	cs, err := p.batches.Do(ctx, t.key, op{t: t})
	if err != nil {
		return cloud.Result{}, fmt.Errorf("waiting for the writes to managed identity %s: %w", t, err)
	}
	return cs[0].Result, cs[0].Err
}

// ensure makes t's credential right. A lone Ensure reads its credential by
// name, one call; in a batch of several, one listing serves them all.
func (p *Provider) ensure(ctx context.Context, t target, l *listing) (cloud.Result, error) {
	if !l.listed && !l.shared {
		got, err := t.api.credentials.Get(ctx, t.rg, t.identity, t.name, nil)
		switch {
		case err == nil && p.matches(got.FederatedIdentityCredential, t):
			return cloud.Result{Action: cloud.Unchanged, ID: deref(got.ID)}, nil
		case err == nil:
			return p.put(ctx, t, l, cloud.Updated)
		case !isNotFound(err):
			return cloud.Result{}, p.classify(err, t, "reading federated credential "+t.name+" of managed identity "+t.String())
		}
	}
	if err := p.listOnce(ctx, t, l); err != nil {
		return cloud.Result{}, err
	}
	if c := l.named(t.name); c != nil {
		if p.matches(*c, t) {
			return cloud.Result{Action: cloud.Unchanged, ID: deref(c.ID)}, nil
		}
		return p.put(ctx, t, l, cloud.Updated)
	}
	if c := p.find(l.all, t); c != nil {
		return cloud.Result{Action: cloud.Adopted, ID: deref(c.ID)}, nil
	}
	if len(l.all) >= MaxCredentials {
		return cloud.Result{}, fmt.Errorf("managed identity %s already has %d federated credentials, the most Azure allows; "+
			"remove unused ones or use another identity: %w", t, len(l.all), cloud.ErrLimit)
	}
	return p.put(ctx, t, l, cloud.Created)
}

// put writes the wanted credential; when Azure says another credential holds
// the issuer and subject (a write we did not see), that one is adopted.
func (p *Provider) put(ctx context.Context, t target, l *listing, action cloud.Action) (cloud.Result, error) {
	want := armmsi.FederatedIdentityCredential{Properties: &armmsi.FederatedIdentityCredentialProperties{
		Audiences: []*string{to.Ptr(Audience)}, Issuer: to.Ptr(p.issuer), Subject: to.Ptr(t.subject),
	}}
	doing := "writing federated credential " + t.name + " of managed identity " + t.String()
	resp, err := t.api.credentials.CreateOrUpdate(ctx, t.rg, t.identity, t.name, want, nil)
	if err == nil {
		l.wrote(t.name, &resp.FederatedIdentityCredential)
		return cloud.Result{Action: action, ID: deref(resp.ID)}, nil
	}
	if !combinationExists(err) {
		return cloud.Result{}, p.classify(err, t, doing)
	}
	*l = listing{shared: l.shared} // stale: list again
	if lerr := p.listOnce(ctx, t, l); lerr != nil {
		return cloud.Result{}, lerr
	}
	if c := p.find(l.all, t); c != nil {
		return cloud.Result{Action: cloud.Adopted, ID: deref(c.ID)}, nil
	}
	// The other credential went away meanwhile: the next try will write ours.
	return cloud.Result{}, fmt.Errorf("%s: Azure reported the issuer and subject taken, but no credential holds them now; retrying later: %w", doing, err)
}

// listing is what one batch knows of an identity's credentials: nothing
// until it lists them, at most once, then kept current with its own writes.
type listing struct {
	shared bool // several Ensures will use it
	listed bool
	err    error // the listing's failure, given to every later Ensure of the batch
	all    []*armmsi.FederatedIdentityCredential
}

// listOnce lists t's credentials into l unless it did already.
func (p *Provider) listOnce(ctx context.Context, t target, l *listing) error {
	if l.listed || l.err != nil {
		return l.err
	}
	l.all, l.err = p.list(ctx, t)
	l.listed = l.err == nil
	return l.err
}

// named returns the credential called name; ARM names are case-insensitive.
func (l *listing) named(name string) *armmsi.FederatedIdentityCredential {
	for _, c := range l.all {
		if c != nil && strings.EqualFold(deref(c.Name), name) {
			return c
		}
	}
	return nil
}

// wrote records a credential written as name, or deleted if c is nil.
func (l *listing) wrote(name string, c *armmsi.FederatedIdentityCredential) {
	if !l.listed {
		return
	}
	l.all = slices.DeleteFunc(l.all, func(old *armmsi.FederatedIdentityCredential) bool {
		return old != nil && strings.EqualFold(deref(old.Name), name)
	})
	if c != nil {
		c.Name = to.Ptr(name)
		l.all = append(l.all, c)
	}
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
