package azure

import (
	"container/list"
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

// maxSubscriptions bounds the subscriptions whose clients are kept. The
// subscription comes from ServiceAccount annotations, so tenants choose it,
// and each kept one costs a few KiB of the leader's heap.
const maxSubscriptions = 64

// sdkClients makes armmsi clients per subscription on first use and keeps
// those of the maxSubscriptions subscriptions used last.
func sdkClients(cred azcore.TokenCredential, opts *arm.ClientOptions) *clientCache {
	return newClientCache(maxSubscriptions, func(sub string) (armClients, error) {
		ids, err := armmsi.NewUserAssignedIdentitiesClient(sub, cred, opts)
		if err != nil {
			return armClients{}, fmt.Errorf("creating Azure managed identity client for subscription %s: %w", sub, err)
		}
		creds, err := armmsi.NewFederatedIdentityCredentialsClient(sub, cred, opts)
		if err != nil {
			return armClients{}, fmt.Errorf("creating Azure federated credential client for subscription %s: %w", sub, err)
		}
		return armClients{identities: ids, credentials: creds}, nil
	})
}

// clientCache keeps the clients of the max subscriptions used last; a
// dropped subscription gets new clients when it is used again. Safe for
// concurrent use.
type clientCache struct {
	max   int
	build clientsFor

	mu    sync.Mutex
	order *list.List               // of *cachedClients, the one used last in front
	bySub map[string]*list.Element // by lower-case subscription ID
}

type cachedClients struct {
	sub     string
	clients armClients
}

func newClientCache(limit int, build clientsFor) *clientCache {
	return &clientCache{max: limit, build: build, order: list.New(), bySub: map[string]*list.Element{}}
}

// get returns sub's clients, made on first use.
func (c *clientCache) get(sub string) (armClients, error) {
	key := strings.ToLower(sub)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.bySub[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cachedClients).clients, nil
	}
	made, err := c.build(sub)
	if err != nil {
		return armClients{}, err
	}
	c.bySub[key] = c.order.PushFront(&cachedClients{sub: key, clients: made})
	if c.order.Len() > c.max {
		oldest := c.order.Remove(c.order.Back()).(*cachedClients)
		delete(c.bySub, oldest.sub)
	}
	return made, nil
}

// len returns how many subscriptions' clients are kept.
func (c *clientCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// holds reports whether sub's clients are kept.
func (c *clientCache) holds(sub string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.bySub[strings.ToLower(sub)]
	return ok
}
