package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
)

// Remove deletes the association Keyless made for c's ServiceAccount.
// Associations without Keyless's tags for this cluster are left alone,
// adopted ones included: Keyless did not make them. The known ID saves the
// List; when it names nothing, the cluster's associations are listed, since
// one may have been made after the ID was recorded.
func (p *Provider) Remove(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	return deadline.Call(ctx, p.timeout, func(ctx context.Context) (cloud.Result, error) { return p.remove(ctx, c) })
}

func (p *Provider) remove(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	s := c.Subject
	if err := p.checkAccount(ctx); err != nil {
		return cloud.Result{}, err
	}
	a, err := p.known(ctx, s, c.KnownID)
	if err != nil {
		return cloud.Result{}, err
	}
	var found []types.PodIdentityAssociation
	if a != nil {
		found = append(found, *a)
	} else if found, err = p.lookup(ctx, s); err != nil {
		return cloud.Result{}, err
	}
	res := cloud.Result{Action: cloud.Absent}
	for _, a := range found {
		if !p.ours(a.Tags) {
			continue
		}
		id := aws.ToString(a.AssociationId)
		_, err := p.api.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{
			ClusterName: aws.String(p.cluster), AssociationId: aws.String(id),
		})
		if err != nil && !notFound(err) { // 404: already gone, as wanted
			return cloud.Result{}, p.classify("DeletePodIdentityAssociation", &s, "", err)
		}
		res = cloud.Result{Action: cloud.Deleted, ID: id}
	}
	return res, nil
}
