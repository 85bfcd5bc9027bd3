package azure

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// seamFake stands in for the armmsi clients: no credential exists, and each
// write waits in onPut.
type seamFake struct {
	onPut func(identity string) error
}

func (f seamFake) Get(_ context.Context, _, name string, _ *armmsi.UserAssignedIdentitiesClientGetOptions) (armmsi.UserAssignedIdentitiesClientGetResponse, error) {
	var r armmsi.UserAssignedIdentitiesClientGetResponse
	r.Properties = &armmsi.UserAssignedIdentityProperties{ClientID: to.Ptr("client-of-" + name)}
	return r, nil
}

type seamCredentials struct{ seamFake }

func (seamCredentials) Get(context.Context, string, string, string, *armmsi.FederatedIdentityCredentialsClientGetOptions) (armmsi.FederatedIdentityCredentialsClientGetResponse, error) {
	return armmsi.FederatedIdentityCredentialsClientGetResponse{}, notFound()
}

func (f seamCredentials) CreateOrUpdate(_ context.Context, _, identity, name string, _ armmsi.FederatedIdentityCredential,
	_ *armmsi.FederatedIdentityCredentialsClientCreateOrUpdateOptions) (armmsi.FederatedIdentityCredentialsClientCreateOrUpdateResponse, error) {
	var r armmsi.FederatedIdentityCredentialsClientCreateOrUpdateResponse
	r.ID = to.Ptr(identity + "/" + name)
	return r, f.onPut(identity)
}

func (seamCredentials) Delete(context.Context, string, string, string, *armmsi.FederatedIdentityCredentialsClientDeleteOptions) (armmsi.FederatedIdentityCredentialsClientDeleteResponse, error) {
	return armmsi.FederatedIdentityCredentialsClientDeleteResponse{}, nil
}

func (seamCredentials) NewListPager(string, string, *armmsi.FederatedIdentityCredentialsClientListOptions) *runtime.Pager[armmsi.FederatedIdentityCredentialsClientListResponse] {
	return runtime.NewPager(runtime.PagingHandler[armmsi.FederatedIdentityCredentialsClientListResponse]{
		More: func(armmsi.FederatedIdentityCredentialsClientListResponse) bool { return false },
		Fetcher: func(context.Context, *armmsi.FederatedIdentityCredentialsClientListResponse) (armmsi.FederatedIdentityCredentialsClientListResponse, error) {
			return armmsi.FederatedIdentityCredentialsClientListResponse{}, nil
		},
	})
}

func notFound() error {
	return runtime.NewResponseError(&http.Response{
		StatusCode: http.StatusNotFound, Status: "404 Not Found", Header: http.Header{},
		Body:    io.NopCloser(strings.NewReader(`{"error":{"code":"ResourceNotFound","message":"not found"}}`)),
		Request: httptest.NewRequest(http.MethodGet, "https://management.azure.com/x", nil),
	})
}

// TestNoGlobalLock: a write to identity A waits until a write to identity B
// has started, which only happens if B is not queued behind A.
func TestNoGlobalLock(t *testing.T) {
	started := map[string]chan struct{}{"uami-a": make(chan struct{}), "uami-b": make(chan struct{})}
	other := map[string]string{"uami-a": "uami-b", "uami-b": "uami-a"}
	fake := seamFake{onPut: func(identity string) error {
		close(started[identity])
		select {
		case <-started[other[identity]]:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("the write to the other identity never started")
		}
	}}
	clients := func(string) (armClients, error) {
		return armClients{identities: fake, credentials: seamCredentials{fake}}, nil
	}
	p := newProvider(Options{SubscriptionID: testSub, IssuerURL: testIssuer, ClusterName: testCluster}, clients)

	var wg sync.WaitGroup
	for identity := range started {
		wg.Go(func() {
			c := conn("ns", "app")
			c.Azure.Name = identity
			res, err := p.Ensure(ctx(t), c)
			if err != nil || res.Action != cloud.Created || res.ClientID != "client-of-"+identity {
				t.Errorf("%s: got %+v, %v", identity, res, err)
			}
		})
	}
	wg.Wait()
}
