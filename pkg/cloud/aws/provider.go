// Package aws connects Kubernetes ServiceAccounts to IAM roles with EKS Pod
// Identity associations, one per (cluster, namespace, ServiceAccount).
//
// Keyless marks the associations it creates with the tags TagManagedBy and
// TagCluster and never changes or deletes an association without them; an
// identical one is adopted as it is. A recorded association ID is only a
// hint, checked with a Describe; without one, Ensure creates first and lets
// EKS's one-association-per-ServiceAccount rule (409) say when to list.
// Creates carry a deterministic clientRequestToken, so neither a lost
// response nor a crash can duplicate an association or cause a create loop.
// A cluster EKS does not know (a wrong --cluster-name or --aws-region) is
// cloud.ErrClusterNotFound, never cloud.ErrNotFound: it tells nothing about
// the associations, which may well exist in the right cluster. So is, with
// Options.AccountID set, a cluster whose ARN names another account: the
// provider then neither makes nor deletes anything there.
//
// The caller's credentials need eks:ListPodIdentityAssociations,
// eks:DescribePodIdentityAssociation, eks:CreatePodIdentityAssociation,
// eks:UpdatePodIdentityAssociation, eks:DeletePodIdentityAssociation,
// eks:TagResource, eks:DescribeCluster (for roles given by name, and with
// Options.AccountID set) and iam:PassRole on the roles.
package aws

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
)

// The tags Keyless puts on the associations it creates.
const (
	TagManagedBy   = "keyless.dev/managed-by"
	ManagedByValue = "keyless"
	// TagCluster holds the EKS cluster name, so one cluster's Keyless never
	// claims what another's made.
	TagCluster = "keyless.dev/cluster"
)

// pageSize is the largest page ListPodIdentityAssociations allows.
const pageSize = 100

// eksAPI is exactly the part of the EKS client the provider uses; tests
// wrap a real client to interpose on single calls.
type eksAPI interface {
	DescribeCluster(context.Context, *eks.DescribeClusterInput, ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
	ListPodIdentityAssociations(context.Context, *eks.ListPodIdentityAssociationsInput, ...func(*eks.Options)) (*eks.ListPodIdentityAssociationsOutput, error)
	DescribePodIdentityAssociation(context.Context, *eks.DescribePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.DescribePodIdentityAssociationOutput, error)
	CreatePodIdentityAssociation(context.Context, *eks.CreatePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.CreatePodIdentityAssociationOutput, error)
	UpdatePodIdentityAssociation(context.Context, *eks.UpdatePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.UpdatePodIdentityAssociationOutput, error)
	DeletePodIdentityAssociation(context.Context, *eks.DeletePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.DeletePodIdentityAssociationOutput, error)
}

// Provider makes EKS Pod Identity associations match connections.
type Provider struct {
	api      eksAPI
	cluster  string
	region   string
	pageSize int32
	timeout  time.Duration // of each Ensure and Remove

	// wantAccount, if set, is the account the cluster must be in.
	wantAccount string

	mu   sync.Mutex
	home *account // the cluster's account, once read
}

// account is where the cluster lives; bare role names resolve into it.
type account struct {
	partition, id string
}

var _ cloud.Provider = (*Provider)(nil)

func newProvider(api eksAPI, cluster, region string) *Provider {
	return &Provider{api: api, cluster: cluster, region: region, pageSize: pageSize, timeout: deadline.Default}
}

// tags are the tags of an association Keyless creates.
func (p *Provider) tags() map[string]string {
	return map[string]string{TagManagedBy: ManagedByValue, TagCluster: p.cluster}
}

// ours reports whether this cluster's Keyless created an association.
func (p *Provider) ours(tags map[string]string) bool {
	return tags[TagManagedBy] == ManagedByValue && tags[TagCluster] == p.cluster
}

// nonEmpty maps "" to nil, which the SDK leaves out of the request.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
