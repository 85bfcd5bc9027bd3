package azure

import (
	"context"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// Remove deletes the credential Keyless named for c. Adopted and foreign
// credentials have other names and are left alone.
func (p *Provider) Remove(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	t, err := p.target(c)
	if err != nil {
		return cloud.Result{}, err
	}
	unlock, err := p.locks.lock(ctx, t.key)
	if err != nil {
		return cloud.Result{}, fmt.Errorf("waiting for other writes to managed identity %s: %w", t, err)
	}
	defer unlock()

	// ARM answers 200 when it deleted something and 204 when there was nothing.
	var raw *http.Response
	_, err = t.api.credentials.Delete(policy.WithCaptureResponse(ctx, &raw), t.rg, t.identity, t.name, nil)
	switch {
	case isNotFound(err): // the identity is gone, and its credentials with it
		p.forget(t)
		return cloud.Result{Action: cloud.Absent}, nil
	case err != nil:
		return cloud.Result{}, p.classify(err, t, "deleting federated credential "+t.name+" of managed identity "+t.String())
	case raw != nil && raw.StatusCode == http.StatusNoContent:
		return cloud.Result{Action: cloud.Absent}, nil
	}
	return cloud.Result{Action: cloud.Deleted, ID: t.credentialID()}, nil
}
