package azure

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
)

// MaxCredentials is how many federated credentials Azure allows per identity.
const MaxCredentials = 20

// Ensure creates, corrects or adopts the federated credential of c.
func (p *Provider) Ensure(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	return deadline.Call(ctx, p.timeout, func(ctx context.Context) (cloud.Result, error) {
		return p.do(ctx, c, false)
	})
}

// do queues an Ensure or, with remove, a Remove of c into the batches of
// its identity and waits for its outcome.
func (p *Provider) do(ctx context.Context, c cloud.Connection, remove bool) (cloud.Result, error) {
	t, err := p.target(c)
	if err != nil {
		return cloud.Result{}, err
	}
	cs, err := p.batches.Do(ctx, t.key, op{t: t, remove: remove})
	if err != nil {
		return cloud.Result{}, fmt.Errorf("waiting for the writes to managed identity %s: %w", t, err)
	}
	return cs[0].Result, cs[0].Err
}

// ensure makes t's credential right. In a batch of several Ensures, one
// listing serves them all. A lone Ensure reads the credential by its name
// (or by the known ID of one it adopted) and writes only when it is missing
// or has drifted: a resync costs one call, a first sync two. The read comes
// first even with nothing known, so that an Ensure redone after a crash or
// a leader change (the credential made, its status not yet written) finds
// it rather than writes it again. It lists only when Azure refuses the
// write, to adopt the credential holding the issuer and subject or to tell
// the limit from other refusals.
func (p *Provider) ensure(ctx context.Context, t target, l *listing) (cloud.Result, error) {
	if l.listed || l.shared || (p.reads.TTL > 0 && t.knownName() != "") {
		// With ReadReuse, a drift check lists: the same one call as a
		// read, and the listing serves the identity's other checks.
		return p.ensureListed(ctx, t, l)
	}
	if name := t.knownName(); name != "" && !strings.EqualFold(name, t.name) {
		return p.ensureAdopted(ctx, t, l, name)
	}
	got, err := t.api.credentials.Get(ctx, t.rg, t.identity, t.name, nil)
	switch {
	case err == nil && p.matches(got.FederatedIdentityCredential, t):
		return cloud.Result{Action: cloud.Unchanged, ID: t.idOf(got.ID, t.name)}, nil
	case err == nil:
		return p.put(ctx, t, l, cloud.Updated)
	case isNotFound(err): // deleted out of band, or the identity is gone: the write tells
		return p.put(ctx, t, l, cloud.Created)
	}
	return cloud.Result{}, p.classify(err, t, "reading federated credential "+t.name+" of managed identity "+t.String())
}

// ensureAdopted reads the credential an earlier call adopted; while it
// still trusts t's issuer and subject, it stays adopted as it is.
func (p *Provider) ensureAdopted(ctx context.Context, t target, l *listing, name string) (cloud.Result, error) {
	got, err := t.api.credentials.Get(ctx, t.rg, t.identity, name, nil)
	switch {
	case err == nil && p.find([]*armmsi.FederatedIdentityCredential{&got.FederatedIdentityCredential}, t) != nil:
		return cloud.Result{Action: cloud.Adopted, ID: t.idOf(got.ID, name)}, nil
	case err != nil && !isNotFound(err):
		return cloud.Result{}, p.classify(err, t, "reading federated credential "+name+" of managed identity "+t.String())
	}
	return p.ensureListed(ctx, t, l)
}

// ensureListed decides from the listing of t's credentials.
func (p *Provider) ensureListed(ctx context.Context, t target, l *listing) (cloud.Result, error) {
	if err := p.listOnce(ctx, t, l); err != nil {
		return cloud.Result{}, err
	}
	if c := l.named(t.name); c != nil {
		if p.matches(*c, t) {
			return cloud.Result{Action: cloud.Unchanged, ID: t.idOf(c.ID, t.name)}, nil
		}
		return p.put(ctx, t, l, cloud.Updated)
	}
	if c := p.find(l.all, t); c != nil {
		return cloud.Result{Action: cloud.Adopted, ID: t.idOf(c.ID, deref(c.Name))}, nil
	}
	if len(l.all) >= MaxCredentials {
		return cloud.Result{}, limitReached(t, len(l.all))
	}
	return p.put(ctx, t, l, cloud.Created)
}

// put writes the wanted credential. When Azure refuses it, a fresh listing
// tells why: another credential holds the issuer and subject (a write we
// did not see), and is adopted; or the identity is full.
func (p *Provider) put(ctx context.Context, t target, l *listing, action cloud.Action) (cloud.Result, error) {
	want := armmsi.FederatedIdentityCredential{Properties: &armmsi.FederatedIdentityCredentialProperties{
		Audiences: []*string{to.Ptr(Audience)}, Issuer: to.Ptr(p.issuer), Subject: to.Ptr(t.subject),
	}}
	doing := "writing federated credential " + t.name + " of managed identity " + t.String()
	resp, err := t.api.credentials.CreateOrUpdate(ctx, t.rg, t.identity, t.name, want, nil)
	if err == nil {
		l.wrote(t.name, &resp.FederatedIdentityCredential)
		return cloud.Result{Action: action, ID: t.idOf(resp.ID, t.name)}, nil
	}
	taken := combinationExists(err)
	// A listing that was current checked the limit before this write.
	if !taken && (l.listed || !refused(err)) {
		return cloud.Result{}, p.classify(err, t, doing)
	}
	*l = listing{shared: l.shared} // stale: list again
	if lerr := p.listOnce(ctx, t, l); lerr != nil {
		return cloud.Result{}, lerr
	}
	if c := p.find(l.all, t); taken && c != nil {
		return cloud.Result{Action: cloud.Adopted, ID: t.idOf(c.ID, deref(c.Name))}, nil
	}
	if l.named(t.name) == nil && len(l.all) >= MaxCredentials {
		return cloud.Result{}, limitReached(t, len(l.all))
	}
	if taken {
		// The other credential went away meanwhile: the next try will write ours.
		return cloud.Result{}, fmt.Errorf("%s: Azure reported the issuer and subject taken, but no credential holds them now; retrying later: %w", doing, err)
	}
	return cloud.Result{}, p.classify(err, t, doing)
}

func limitReached(t target, n int) error {
	return fmt.Errorf("managed identity %s already has %d federated credentials, the most Azure allows; "+
		"remove unused ones or use another identity: %w", t, n, cloud.ErrLimit)
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
