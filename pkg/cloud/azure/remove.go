package azure

import (
	"context"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
)

// Remove deletes the credential Keyless named for c. Adopted and foreign
// credentials have other names and are left alone.
//
// If ctx ends once the delete is under way, Remove returns ctx's error and
// the credential may be gone all the same; a later Remove then answers Absent.
func (p *Provider) Remove(ctx context.Context, c cloud.Connection) (cloud.Result, error) {
	return deadline.Call(ctx, p.timeout, func(ctx context.Context) (cloud.Result, error) {
		return p.do(ctx, c, true)
	})
}

func (p *Provider) remove(ctx context.Context, t target, l *listing) (cloud.Result, error) {
	// ARM answers 200 when it deleted something and 204 when there was nothing.
	var raw *http.Response
	_, err := t.api.credentials.Delete(policy.WithCaptureResponse(ctx, &raw), t.rg, t.identity, t.name, nil)
	switch {
	case isNotFound(err): // the identity is gone, and its credentials with it
		p.forget(t)
		return cloud.Result{Action: cloud.Absent}, nil
	case err != nil:
		return cloud.Result{}, p.classify(err, t, "deleting federated credential "+t.name+" of managed identity "+t.String())
	}
	l.wrote(t.name, nil)
	if raw != nil && raw.StatusCode == http.StatusNoContent {
		return cloud.Result{Action: cloud.Absent}, nil
	}
	return cloud.Result{Action: cloud.Deleted, ID: t.credentialID(t.name)}, nil
}
