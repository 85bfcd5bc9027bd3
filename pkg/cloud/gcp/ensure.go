package gcp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-logr/logr"
	iam "google.golang.org/api/iam/v1"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// Ensure grants c's ServiceAccount Role on c's Google service account.
// Result.ID is "EMAIL MEMBER".
func (p *Provider) Ensure(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	if err := check(c); err != nil {
		return cloud.Result{}, err
	}
	rs, err := p.EnsureMany(ctx, c.GCP.Email, []cloud.Subject{c.Subject})
	if err != nil {
		return cloud.Result{}, err
	}
	return rs[0], nil
}

// EnsureMany grants several ServiceAccounts Role on one Google service
// account in a single read-modify-write, and no write at all when every
// member is there already. The results are in the order of subjects.
func (p *Provider) EnsureMany(ctx context.Context, email string, subjects []cloud.Subject) ([]cloud.Result, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	for _, s := range subjects {
		if s.Namespace == "" || s.Name == "" {
			return nil, fmt.Errorf("ServiceAccount %q in namespace %q: both names must be set (%w)", s.Name, s.Namespace, cloud.ErrInvalid)
		}
	}
	email = strings.ToLower(email)
	results := make([]cloud.Result, len(subjects))
	err := p.modify(ctx, email, func(pol *iam.Policy) bool {
		changed := false
		for i, s := range subjects {
			m := member(p.pool, s)
			results[i] = cloud.Result{Action: cloud.Unchanged, ID: email + " " + m}
			if !hasMember(pol, m) {
				addMember(pol, m)
				results[i].Action = cloud.Created
				changed = true
			}
		}
		return changed
	})
	if err != nil {
		return nil, fmt.Errorf("granting %s on Google service account %s: %w", Role, email, err)
	}
	return results, nil
}

// Remove takes c's ServiceAccount out of the unconditional Role binding of
// c's Google service account. Conditional bindings are someone else's and
// stay. A missing account has no policy left, so that is Absent too.
func (p *Provider) Remove(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	if err := check(c); err != nil {
		return cloud.Result{}, err
	}
	email := strings.ToLower(c.GCP.Email)
	m := member(p.pool, c.Subject)
	res := cloud.Result{Action: cloud.Absent, ID: email + " " + m}
	err := p.modify(ctx, email, func(pol *iam.Policy) bool {
		res.Action = cloud.Absent
		if removeMember(pol, m) {
			res.Action = cloud.Deleted
		}
		return res.Action == cloud.Deleted
	})
	switch {
	case errors.Is(err, cloud.ErrNotFound):
		return cloud.Result{Action: cloud.Absent, ID: res.ID}, nil
	case err != nil:
		return cloud.Result{}, fmt.Errorf("revoking %s on Google service account %s: %w", Role, email, err)
	}
	return res, nil
}

func check(c cloud.Connection) error {
	switch {
	case c.GCP == nil || c.GCP.Email == "":
		return fmt.Errorf("connection of %s/%s names no Google service account (%w)", c.Subject.Namespace, c.Subject.Name, cloud.ErrInvalid)
	case c.Subject.Namespace == "" || c.Subject.Name == "":
		return fmt.Errorf("connection to %s names no ServiceAccount (%w)", c.GCP.Email, cloud.ErrInvalid)
	}
	return nil
}

// modify runs edit in a read-modify-write of email's policy, holding the
// account's lock; edit reports whether it changed the policy (no write if
// not). A 409 ABORTED means another writer came between the read and the
// write, so the whole cycle is redone after a backoff, never the write alone.
func (p *Provider) modify(ctx context.Context, email string, edit func(*iam.Policy) bool) error {
	unlock, err := p.locks.lock(ctx, email)
	if err != nil {
		return fmt.Errorf("waiting for other changes to the policy: %w", err)
	}
	defer unlock()
	res := resourceName(email)
	for attempt := 1; ; attempt++ {
		pol, err := p.api.GetIamPolicy(ctx, res)
		if err != nil {
			return p.classify("reading", err)
		}
		if !edit(pol) {
			return nil
		}
		if pol.Etag == "" {
			// Without an etag the write would be unconditional and could
			// drop another writer's change (or every condition).
			return errors.New("IAM returned the policy without an etag; not writing it back blindly, will try again")
		}
		_, err = p.api.SetIamPolicy(ctx, res, forWrite(pol))
		if !isAborted(err) {
			return p.classify("writing", err)
		}
		if attempt >= p.maxAttempts {
			return fmt.Errorf("the IAM policy changed under each of %d read-modify-writes (409 ABORTED: other writers); will try again later: %w", attempt, err)
		}
		logr.FromContextOrDiscard(ctx).V(1).Info("IAM policy changed concurrently; redoing the read-modify-write",
			"serviceAccount", email, "attempt", attempt)
		if err := p.wait(ctx, attempt); err != nil {
			return fmt.Errorf("backing off after a concurrent IAM policy change: %w", err)
		}
	}
}

// wait sleeps Backoff·2^(attempt-1), at most MaxBackoff, jittered to 50-100%
// so that writers who collided do not collide again.
func (p *Provider) wait(ctx context.Context, attempt int) error {
	d := p.backoff
	for i := 1; i < attempt && d < p.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.maxBackoff)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
