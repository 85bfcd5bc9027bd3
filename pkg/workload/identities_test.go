package workload

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/policy"
)

// indexer keeps the index function AddIdentityIndex registers.
type indexer struct{ fn client.IndexerFunc }

func (i *indexer) IndexField(_ context.Context, _ client.Object, field string, fn client.IndexerFunc) error {
	if field == IndexIdentity {
		i.fn = fn
	}
	return nil
}

func sa(ns, name string, annots ...string) *corev1.ServiceAccount {
	m := map[string]string{}
	for i := 0; i+1 < len(annots); i += 2 {
		m[annots[i]] = annots[i+1]
	}
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: m}}
}

// TestIdentityIndexSpellings: every spelling of one identity is indexed
// under one key, so that uniqueIdentity finds it.
func TestIdentityIndexSpellings(t *testing.T) {
	cl := policy.Cluster{AWSAccount: "123456789012", AzureSubscription: "00000000-0000-0000-0000-000000000001"}
	var ix indexer
	if err := AddIdentityIndex(context.Background(), &ix, annotations.Options{AzureDefaultResourceGroup: "rg-é"}, cl); err != nil {
		t.Fatal(err)
	}
	objs := []*corev1.ServiceAccount{
		sa("team-a", "app", annotations.KeyAWSRole, "orders-api", annotations.KeyAzureIdentity, "shared-id"),
		sa("team-b", "app", annotations.KeyAWSRole, "arn:aws:iam::123456789012:role/team/Orders-API",
			annotations.KeyAzureIdentity, "SHARED-ID", annotations.KeyAzureResourceGroup, "RG-É"),
		sa("team-c", "app", annotations.KeyAWSRole, "arn:aws:iam::210987654321:role/orders-api"),
		sa("team-d", "app", annotations.KeyAWSRole, "bad:value"),
	}
	b := fake.NewClientBuilder().WithIndex(&corev1.ServiceAccount{}, IndexIdentity, ix.fn)
	for _, o := range objs {
		b = b.WithObjects(o)
	}
	c := b.Build()
	ctx := context.Background()
	for _, tt := range []struct {
		conns annotations.Connections
		cloud string
		want  []string
	}{
		{annotations.Connections{AWS: &annotations.AWSRole{Path: "/", Name: "orders-api"}}, policy.CloudAWS, []string{"team-a/app", "team-b/app"}},
		{annotations.Connections{AWS: &annotations.AWSRole{Partition: "aws", Account: "210987654321", Path: "/", Name: "ORDERS-api"}}, policy.CloudAWS, []string{"team-c/app"}},
		{annotations.Connections{Azure: &annotations.AzureIdentity{ResourceGroup: "Rg-É", Name: "shared-id"}}, policy.CloudAzure, []string{"team-a/app", "team-b/app"}},
	} {
		key := policy.IdentityKey(tt.cloud, tt.conns, cl)
		got, err := Bindings(ctx, c, key)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Bindings(%q) = %q, want %q", key, got, tt.want)
		}
	}
}

func TestNamespaces(t *testing.T) {
	var objs []client.Object
	for _, n := range []string{"team", "team-prod", "teams", "other", "tea"} {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	c := fake.NewClientBuilder().WithObjects(objs...).Build()
	got, err := Namespaces(context.Background(), c, "team")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"team", "team-prod", "teams"}; !slices.Equal(got, want) {
		t.Errorf("Namespaces(team) = %q, want %q", got, want)
	}
}
