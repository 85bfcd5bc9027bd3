package azure

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
)

// identitiesAPI is the one armmsi.UserAssignedIdentitiesClient method used.
type identitiesAPI interface {
	Get(ctx context.Context, resourceGroupName, resourceName string,
		options *armmsi.UserAssignedIdentitiesClientGetOptions) (armmsi.UserAssignedIdentitiesClientGetResponse, error)
}

// credentialsAPI is the armmsi.FederatedIdentityCredentialsClient methods used.
type credentialsAPI interface {
	Get(ctx context.Context, resourceGroupName, resourceName, federatedIdentityCredentialResourceName string,
		options *armmsi.FederatedIdentityCredentialsClientGetOptions) (armmsi.FederatedIdentityCredentialsClientGetResponse, error)
	CreateOrUpdate(ctx context.Context, resourceGroupName, resourceName, federatedIdentityCredentialResourceName string,
		parameters armmsi.FederatedIdentityCredential,
		options *armmsi.FederatedIdentityCredentialsClientCreateOrUpdateOptions) (armmsi.FederatedIdentityCredentialsClientCreateOrUpdateResponse, error)
	Delete(ctx context.Context, resourceGroupName, resourceName, federatedIdentityCredentialResourceName string,
		options *armmsi.FederatedIdentityCredentialsClientDeleteOptions) (armmsi.FederatedIdentityCredentialsClientDeleteResponse, error)
	NewListPager(resourceGroupName, resourceName string,
		options *armmsi.FederatedIdentityCredentialsClientListOptions) *runtime.Pager[armmsi.FederatedIdentityCredentialsClientListResponse]
}

// armClients are the clients of one subscription.
type armClients struct {
	identities  identitiesAPI
	credentials credentialsAPI
}

// clientsFor returns the clients for a subscription: armmsi clients are bound to one.
type clientsFor func(subscriptionID string) (armClients, error)

// sdkClients makes armmsi clients per subscription on first use and keeps them.
func sdkClients(cred azcore.TokenCredential, opts *arm.ClientOptions) clientsFor {
	var mu sync.Mutex
	made := map[string]armClients{}
	return func(sub string) (armClients, error) {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := made[strings.ToLower(sub)]; ok {
			return c, nil
		}
		ids, err := armmsi.NewUserAssignedIdentitiesClient(sub, cred, opts)
		if err != nil {
			return armClients{}, fmt.Errorf("creating Azure managed identity client for subscription %s: %w", sub, err)
		}
		creds, err := armmsi.NewFederatedIdentityCredentialsClient(sub, cred, opts)
		if err != nil {
			return armClients{}, fmt.Errorf("creating Azure federated credential client for subscription %s: %w", sub, err)
		}
		c := armClients{identities: ids, credentials: creds}
		made[strings.ToLower(sub)] = c
		return c, nil
	}
}
