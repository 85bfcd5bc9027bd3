package azure

import (
	"context"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
)

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
	// An identity holds at most MaxCredentials: ask for them all in one page.
	pager := t.api.credentials.NewListPager(t.rg, t.identity,
		&armmsi.FederatedIdentityCredentialsClientListOptions{Top: to.Ptr[int32](MaxCredentials)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, p.classify(err, t, "listing federated credentials of managed identity "+t.String())
		}
		all = append(all, page.Value...)
	}
	return all, nil
}
