package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// reconcile brings an existing association to w: an identical one is kept
// (adopted if someone else made it), one of Keyless's is updated, and a
// different one of someone else's is a conflict that only a person can end.
func (p *Provider) reconcile(ctx context.Context, s cloud.Subject, a types.PodIdentityAssociation, w wanted) (cloud.Result, error) {
	id := aws.ToString(a.AssociationId)
	ours := p.ours(a.Tags)
	switch {
	case w.matches(a) && ours:
		return cloud.Result{Action: cloud.Unchanged, ID: id}, nil
	case w.matches(a):
		return cloud.Result{Action: cloud.Adopted, ID: id}, nil
	case !ours:
		return cloud.Result{}, p.conflict(s, a, w)
	}
	_, err := p.api.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
		ClusterName:   aws.String(p.cluster),
		AssociationId: aws.String(id),
		RoleArn:       aws.String(w.role),
		// "" unsets the target role; nil would keep it.
		TargetRoleArn:      aws.String(w.target),
		DisableSessionTags: aws.Bool(w.noTags),
	})
	switch {
	case notFound(err):
		return cloud.Result{}, fmt.Errorf("association %s of %s/%s was deleted while Keyless updated it; it will be created again on retry: %w",
			id, s.Namespace, s.Name, err)
	case err != nil:
		return cloud.Result{}, p.classify("UpdatePodIdentityAssociation", &s, w.role, err)
	}
	return cloud.Result{Action: cloud.Updated, ID: id}, nil
}

// conflict explains why Keyless leaves a foreign association alone.
func (p *Provider) conflict(s cloud.Subject, a types.PodIdentityAssociation, w wanted) error {
	id, role := aws.ToString(a.AssociationId), aws.ToString(a.RoleArn)
	owner := ""
	if o := aws.ToString(a.OwnerArn); o != "" {
		owner = " (it belongs to the EKS add-on " + o + ")"
	}
	if role != w.role {
		return fmt.Errorf("association %s of %s/%s points at role %s and was not created by Keyless%s; delete it or point %s at %s: %w",
			id, s.Namespace, s.Name, role, owner, annotations.KeyAWSRole, role, cloud.ErrConflict)
	}
	return fmt.Errorf("association %s of %s/%s has targetRoleArn %q and disableSessionTags %t and was not created by Keyless%s; "+
		"delete it or make %s and %s match it: %w",
		id, s.Namespace, s.Name, aws.ToString(a.TargetRoleArn), aws.ToBool(a.DisableSessionTags), owner,
		annotations.KeyAWSTargetRole, annotations.KeyAWSSessionTags, cloud.ErrConflict)
}
