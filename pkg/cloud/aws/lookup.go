package aws

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// lookup finds the associations of s, following every nextToken (a filtered
// page may be empty and still have a next one), and describes each, since
// list summaries carry no role. EKS allows one per ServiceAccount; an
// association deleted between List and Describe is skipped.
//
// The List pages over the whole cluster, so its cost grows with the number
// of associations: callers try the known ID first (known).
func (p *Provider) lookup(ctx context.Context, s cloud.Subject) ([]types.PodIdentityAssociation, error) {
	pages := eks.NewListPodIdentityAssociationsPaginator(p.api, &eks.ListPodIdentityAssociationsInput{
		ClusterName:    aws.String(p.cluster),
		Namespace:      aws.String(s.Namespace),
		ServiceAccount: aws.String(s.Name),
		MaxResults:     aws.Int32(p.pageSize),
	})
	var ids []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, p.classify("ListPodIdentityAssociations", &s, "", err)
		}
		for _, a := range page.Associations {
			// The filter is the server's; check it rather than trust it.
			if aws.ToString(a.Namespace) == s.Namespace && aws.ToString(a.ServiceAccount) == s.Name {
				ids = append(ids, aws.ToString(a.AssociationId))
			}
		}
	}
	var found []types.PodIdentityAssociation
	for _, id := range ids {
		a, err := p.describe(ctx, s, id)
		if err != nil {
			return nil, err
		}
		if a != nil {
			found = append(found, *a)
		}
	}
	return found, nil
}

// known describes the association an earlier call recorded (id), and
// returns it only if it is still there and still s's in this cluster: the
// ID is a hint (a copied status annotation could name another
// ServiceAccount's association), so nil means "look it up".
func (p *Provider) known(ctx context.Context, s cloud.Subject, id string) (*types.PodIdentityAssociation, error) {
	if id == "" {
		return nil, nil
	}
	a, err := p.describe(ctx, s, id)
	switch {
	case errors.Is(err, cloud.ErrInvalid): // not an association ID at all
		return nil, nil
	case err != nil || a == nil:
		return nil, err
	}
	if aws.ToString(a.ClusterName) != p.cluster || aws.ToString(a.Namespace) != s.Namespace ||
		aws.ToString(a.ServiceAccount) != s.Name {
		return nil, nil
	}
	return a, nil
}

// describe returns one association, or nil when it does not exist.
func (p *Provider) describe(ctx context.Context, s cloud.Subject, id string) (*types.PodIdentityAssociation, error) {
	out, err := p.api.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String(p.cluster), AssociationId: aws.String(id),
	})
	switch {
	case notFound(err):
		return nil, nil
	case err != nil:
		return nil, p.classify("DescribePodIdentityAssociation", &s, "", err)
	}
	return out.Association, nil
}
