package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// lookup finds the associations of s, following every nextToken (a filtered
// page may be empty and still have a next one), and describes each, since
// list summaries carry no role. EKS allows one per ServiceAccount; an
// association deleted between List and Describe is skipped.
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
		out, err := p.api.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
			ClusterName: aws.String(p.cluster), AssociationId: aws.String(id),
		})
		switch {
		case notFound(err):
			continue
		case err != nil:
			return nil, p.classify("DescribePodIdentityAssociation", &s, "", err)
		case out.Association != nil:
			found = append(found, *out.Association)
		}
	}
	return found, nil
}
