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
	"github.com/keyless-dev/keyless/pkg/cloud/internal/batch"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
)

// Ensure grants c's ServiceAccount Role on c's Google service account.
// Result.ID is "EMAIL MEMBER".
func (p *Provider) Ensure(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	if err := check(c); err != nil {
		return cloud.Result{}, err
	}
	rs, err := deadline.Call(ctx, p.timeout, func(ctx context.Context) ([]cloud.Result, error) {
		return p.ensureMany(ctx, c.GCP.Email, []cloud.Subject{c.Subject}, c.KnownID != "")
	})
	if err != nil {
		return cloud.Result{}, err
	}
	return rs[0], nil
}

// EnsureMany grants several ServiceAccounts Role on one Google service
// account, all in the same read-modify-write, and no write at all when
// every member is there already. The results are in the order of subjects.
func (p *Provider) EnsureMany(ctx context.Context, email string, subjects []cloud.Subject) ([]cloud.Result, error) {
	return deadline.Call(ctx, p.timeout, func(ctx context.Context) ([]cloud.Result, error) {
		return p.ensureMany(ctx, email, subjects, false)
	})
}

// ensureMany is EnsureMany; known says the members were granted by earlier
// calls (drift checks), which a recent read of the policy may answer.
func (p *Provider) ensureMany(ctx context.Context, email string, subjects []cloud.Subject, known bool) ([]cloud.Result, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	changes := make([]change, len(subjects))
	for i, s := range subjects {
		if s.Namespace == "" || s.Name == "" {
			return nil, fmt.Errorf("ServiceAccount %q in namespace %q: both names must be set (%w)", s.Name, s.Namespace, cloud.ErrInvalid)
		}
		changes[i] = change{member: member(p.pool, s), known: known}
	}
	email = strings.ToLower(email)
	cs, err := p.batches.Do(ctx, email, changes...)
	if err != nil {
		return nil, fmt.Errorf("waiting for the change to the IAM policy of %s: %w", email, err)
	}
	results := make([]cloud.Result, len(cs))
	for i, c := range cs {
		if c.Err != nil {
			return nil, fmt.Errorf("granting %s on Google service account %s: %w", Role, email, c.Err)
		}
		results[i] = c.Result
	}
	return results, nil
}

// Remove takes c's ServiceAccount out of the unconditional Role binding of
// c's Google service account. Conditional bindings are someone else's and
// stay. A missing account has no policy left, so that is Absent too.
//
// If ctx ends while the removal is already part of a read-modify-write,
// Remove returns ctx's error and the member may be gone all the same; a
// later Remove then answers Absent.
func (p *Provider) Remove(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	return deadline.Call(ctx, p.timeout, func(ctx context.Context) (cloud.Result, error) { return p.remove(ctx, c) })
}

func (p *Provider) remove(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	if err := check(c); err != nil {
		return cloud.Result{}, err
	}
	email := strings.ToLower(c.GCP.Email)
	m := member(p.pool, c.Subject)
	cs, err := p.batches.Do(ctx, email, change{member: m, remove: true})
	switch {
	case err != nil:
		return cloud.Result{}, fmt.Errorf("waiting for the change to the IAM policy of %s: %w", email, err)
	case errors.Is(cs[0].Err, cloud.ErrNotFound):
		return cloud.Result{Action: cloud.Absent, ID: email + " " + m}, nil
	case cs[0].Err != nil:
		return cloud.Result{}, fmt.Errorf("revoking %s on Google service account %s: %w", Role, email, cs[0].Err)
	}
	return cs[0].Result, nil
}

// change is one member to grant, or with remove to revoke.
type change struct {
	member string
	remove bool
	// known: an earlier call granted the member (a drift check). Only such
	// grants are answered from a recent read: a first grant must see the
	// policy as it is now, to tell a member someone else made (adopted).
	known bool
}

// commit applies a batch of changes to email's policy in one
// read-modify-write (redone whole on a 409). The changes apply in the order
// they came, each result saying what that change did; an error is every
// change's.
//
// A grant whose member was there before is Adopted, never Unchanged: IAM
// members carry no owner, so only the caller's record can tell one Keyless
// added earlier from one someone else did. A member that this call may
// itself have added, in a write whose answer was lost, is Created.
func (p *Provider) commit(ctx context.Context, email string, batch []*batch.Call[change]) {
	if p.fromRecentRead(email, batch) {
		return
	}
	tried := map[string]bool{} // members added by this call's writes so far
	var last *iam.Policy       // as read, with this call's changes
	err := p.modify(ctx, email, len(batch), func(pol *iam.Policy, mayHaveLanded bool) bool {
		last = pol
		added := map[string]bool{} // by earlier changes of this attempt
		changed := false
		for _, c := range batch {
			m := c.Req.member
			c.Result = cloud.Result{ID: email + " " + m}
			switch {
			case c.Req.remove && removeMember(pol, m):
				c.Result.Action = cloud.Deleted
				delete(added, m)
			case c.Req.remove:
				c.Result.Action = cloud.Absent
			case hasMember(pol, m) && (added[m] || mayHaveLanded && tried[m]):
				c.Result.Action = cloud.Created
			case hasMember(pol, m):
				c.Result.Action = cloud.Adopted
			default:
				addMember(pol, m)
				added[m], tried[m] = true, true
				c.Result.Action = cloud.Created
			}
			changed = changed || c.Result.Action == cloud.Deleted || added[m]
		}
		return changed
	})
	if err != nil || last == nil {
		p.reads.Forget(email)
	} else {
		p.reads.Put(email, grantees(last))
	}
	for _, c := range batch {
		c.Err = err
	}
}

// fromRecentRead answers a batch of drift checks from a recent read of
// email's policy when it holds every member: they were there before, so
// Adopted, as a fresh read would say. It answers nothing otherwise.
func (p *Provider) fromRecentRead(email string, batch []*batch.Call[change]) bool {
	members, ok := p.reads.Get(email)
	if !ok {
		return false
	}
	for _, c := range batch {
		if c.Req.remove || !c.Req.known || !members[c.Req.member] {
			return false
		}
	}
	for _, c := range batch {
		c.Result = cloud.Result{Action: cloud.Adopted, ID: email + " " + c.Req.member}
	}
	return true
}

// grantees are the members granted Role unconditionally in pol.
func grantees(pol *iam.Policy) map[string]bool {
	out := map[string]bool{}
	for _, b := range pol.Bindings {
		if isGrant(b) {
			for _, m := range b.Members {
				out[m] = true
			}
		}
	}
	return out
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

// retries is how often a 429 or 5xx answer is retried within one call, as
// the AWS and Azure SDKs do by default (Google's REST clients do not).
const retries = 2

// modify runs edit in a read-modify-write of email's policy, holding the
// account's lock; edit reports whether it changed the policy (no write if
// not). A 409 ABORTED means another writer came between the read and the
// write, so the whole cycle is redone after a backoff, never the write alone;
// so is a 429 or 5xx answer, up to retries times. edit learns whether an
// earlier write of this call may have landed (its answer was a 429 or 5xx).
// changes is only logged.
func (p *Provider) modify(ctx context.Context, email string, changes int, edit func(pol *iam.Policy, mayHaveLanded bool) bool) error {
	unlock, err := p.locks.Lock(ctx, email)
	if err != nil {
		return fmt.Errorf("waiting for other changes to the policy: %w", err)
	}
	defer unlock()
	res := resourceName(email)
	retried := 0           // 429 and 5xx answers retried so far
	mayHaveLanded := false // a write was answered 429 or 5xx
	retry := func(err error) bool {
		if !isRetryable(err) || retried >= retries {
			return false
		}
		retried++
		return p.wait(ctx, retried) == nil
	}
	for attempt := 1; ; attempt++ {
		pol, err := p.api.GetIamPolicy(ctx, res)
		if err != nil {
			if retry(err) {
				attempt--
				continue
			}
			return p.classify("reading", err)
		}
		if !edit(pol, mayHaveLanded) {
			return nil
		}
		if pol.Etag == "" {
			// Without an etag the write would be unconditional and could
			// drop another writer's change (or every condition).
			return errors.New("IAM returned the policy without an etag; not writing it back blindly, will try again")
		}
		_, err = p.api.SetIamPolicy(ctx, res, forWrite(pol))
		if retry(err) {
			// The write may have landed: the cycle starts again from a read.
			mayHaveLanded = true
			attempt--
			continue
		}
		if !isAborted(err) {
			return p.classify("writing", err)
		}
		if attempt >= p.maxAttempts {
			return fmt.Errorf("the IAM policy changed under each of %d read-modify-writes (409 ABORTED: other writers); will try again later: %w", attempt, err)
		}
		logr.FromContextOrDiscard(ctx).V(1).Info("IAM policy changed concurrently; redoing the read-modify-write",
			"serviceAccount", email, "changes", changes, "attempt", attempt)
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
