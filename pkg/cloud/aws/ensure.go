package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
)

// wanted is an association's desired settings.
type wanted struct {
	role, target string
	noTags       bool // disableSessionTags
}

func (w wanted) matches(a types.PodIdentityAssociation) bool {
	return aws.ToString(a.RoleArn) == w.role && aws.ToString(a.TargetRoleArn) == w.target &&
		aws.ToBool(a.DisableSessionTags) == w.noTags
}

// Ensure creates, adopts or updates the association of c's ServiceAccount.
//
// It costs one call in the common cases: a Describe of c.KnownID when the
// association is known and as wanted, a Create when there is none. Create
// comes before any List because EKS refuses a second association for a
// ServiceAccount (409), and only then does Ensure page through the
// cluster's associations to find the one in the way.
func (p *Provider) Ensure(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	return deadline.Call(ctx, p.timeout, func(ctx context.Context) (cloud.Result, error) { return p.ensure(ctx, c) })
}

func (p *Provider) ensure(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	s := c.Subject
	if c.AWS == nil {
		return cloud.Result{}, fmt.Errorf("connection of %s/%s has no AWS role for the AWS provider: %w", s.Namespace, s.Name, cloud.ErrInvalid)
	}
	if err := p.checkAccount(ctx); err != nil {
		return cloud.Result{}, err
	}
	role, err := p.roleARN(ctx, c.AWS.Role)
	if err != nil {
		return cloud.Result{}, err
	}
	w := wanted{role: role, target: c.AWS.TargetRoleARN, noTags: c.AWS.DisableSessionTags}
	a, err := p.known(ctx, s, c.KnownID)
	if err != nil {
		return cloud.Result{}, err
	}
	if a != nil {
		return p.reconcile(ctx, s, *a, w)
	}
	return p.create(ctx, s, w, c.KnownID, true)
}

// replayAge is how much older than its request a created association must
// be to count as EKS's answer from an earlier use of the request token,
// clock differences between Keyless and EKS allowed for.
const replayAge = 30 * time.Second

// create makes the association. If the ServiceAccount has one already
// (another actor's, or our own whose ID was not recorded), EKS says 409 and
// it is found by listing and adopted or corrected: never a second create in
// this call. gone is the ID of an association Keyless knew and found
// deleted, or "". verify checks an answer that EKS gave from an earlier
// use of the token (see replayed).
func (p *Provider) create(ctx context.Context, s cloud.Subject, w wanted, gone string, verify bool) (cloud.Result, error) {
	in := &eks.CreatePodIdentityAssociationInput{
		ClusterName:        aws.String(p.cluster),
		Namespace:          aws.String(s.Namespace),
		ServiceAccount:     aws.String(s.Name),
		RoleArn:            aws.String(w.role),
		TargetRoleArn:      nonEmpty(w.target),
		Tags:               p.tags(),
		ClientRequestToken: aws.String(p.requestToken(s, w, gone)),
	}
	if w.noTags {
		in.DisableSessionTags = aws.Bool(true)
	}
	sent := time.Now()
	out, err := p.api.CreatePodIdentityAssociation(ctx, in)
	var inUse *types.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
		found, lerr := p.lookup(ctx, s)
		if lerr != nil {
			return cloud.Result{}, lerr
		}
		if len(found) == 0 { // deleted meanwhile, or a delete still settling
			return cloud.Result{}, fmt.Errorf("EKS says %s/%s already has an association (%s) but does not list it yet; retrying later: %w",
				s.Namespace, s.Name, inUse.ErrorMessage(), err)
		}
		return p.reconcile(ctx, s, found[0], w)
	case err != nil:
		return cloud.Result{}, p.classify("CreatePodIdentityAssociation", &s, w.role, err)
	}
	res := cloud.Result{Action: cloud.Created}
	if out.Association != nil {
		res.ID = aws.ToString(out.Association.AssociationId)
	}
	if verify && replayed(out.Association, sent) {
		return p.checkReplay(ctx, s, w, res)
	}
	return res, nil
}

// replayed reports whether EKS answered a create with an association made
// long before the request: the answer of an earlier create with the same
// token, which EKS gives for 24 hours even after that association was
// deleted.
func replayed(a *types.PodIdentityAssociation, sent time.Time) bool {
	return a != nil && a.CreatedAt != nil && a.CreatedAt.Before(sent.Add(-replayAge))
}

// checkReplay makes sure a replayed association still exists: one whose
// ID Keyless lost (a crash before it was recorded, a status removed) and
// that was deleted since would otherwise be reported as created. A deleted
// one is created anew, with a token of its own.
func (p *Provider) checkReplay(ctx context.Context, s cloud.Subject, w wanted, res cloud.Result) (cloud.Result, error) {
	a, err := p.known(ctx, s, res.ID)
	switch {
	case err != nil:
		return cloud.Result{}, err
	case a != nil: // made with these very parameters, by an earlier create whose answer was lost
		return res, nil
	}
	return p.create(ctx, s, w, res.ID, false)
}

// requestToken is the same for the same wanted association, so a create
// retried after a lost response returns the first one instead of a 409.
// Re-creating an association that was deleted (gone, its ID) takes a new
// token, so that EKS cannot answer it with the deleted one.
func (p *Provider) requestToken(s cloud.Subject, w wanted, gone string) string {
	parts := []string{"keyless-v1", p.cluster, s.Namespace, s.Name, w.role, w.target, strconv.FormatBool(w.noTags)}
	if gone != "" {
		parts = append(parts, gone)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "keyless-" + hex.EncodeToString(sum[:16])
}
