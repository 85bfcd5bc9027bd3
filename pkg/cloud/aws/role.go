package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// roleARN turns a role given by name or ARN into an ARN, keeping its path;
// a bare name lives in the cluster's account and partition.
func (p *Provider) roleARN(ctx context.Context, r annotations.AWSRole) (string, error) {
	partition, id := r.Partition, r.Account
	if partition == "" || id == "" {
		home, err := p.account(ctx)
		if err != nil {
			return "", err
		}
		if partition == "" {
			partition = home.partition
		}
		if id == "" {
			id = home.id
		}
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	return "arn:" + partition + ":iam::" + id + ":role" + path + r.Name, nil
}

// checkAccount makes sure, when an account is configured, that the cluster
// is in it: credentials of another account with a cluster of the same name
// would otherwise make associations there, or delete that account's.
func (p *Provider) checkAccount(ctx context.Context) error {
	if p.wantAccount == "" {
		return nil
	}
	home, err := p.account(ctx)
	if err != nil {
		return err
	}
	if home.id != p.wantAccount {
		return fmt.Errorf("--aws-account-id %s does not match cluster ARN account %s (EKS cluster %s in region %s); "+
			"check --aws-account-id, --cluster-name, --aws-region and the account of Keyless's AWS credentials: %w",
			p.wantAccount, home.id, p.cluster, p.region, cloud.ErrClusterNotFound)
	}
	return nil
}

// account reads the cluster's account from its ARN, once. A failure is not
// remembered, so the next call tries again.
func (p *Provider) account(ctx context.Context) (account, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.home != nil {
		return *p.home, nil
	}
	out, err := p.api.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(p.cluster)})
	if err != nil {
		return account{}, p.classify("DescribeCluster", nil, "", err)
	}
	if out.Cluster == nil {
		return account{}, fmt.Errorf("EKS DescribeCluster of %s returned no cluster; retrying later", p.cluster)
	}
	a, err := arn.Parse(aws.ToString(out.Cluster.Arn))
	if err != nil || a.AccountID == "" {
		return account{}, fmt.Errorf("EKS cluster %s has ARN %q, which names no account: %w", p.cluster, aws.ToString(out.Cluster.Arn), cloud.ErrInvalid)
	}
	p.home = &account{partition: a.Partition, id: a.AccountID}
	return *p.home, nil
}
