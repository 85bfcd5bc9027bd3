package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

const (
	// codeConcurrentWrites is Azure's 409 for two writes to one identity's credentials.
	codeConcurrentWrites = "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity"
	// msgCombinationExists starts Azure's 400 for a second credential with the same issuer and subject.
	msgCombinationExists = "issuer and subject combination already exists"
	// roleNeeded is the built-in role that allows everything Keyless does here.
	roleNeeded = `"Managed Identity Federated Identity Credential Contributor"`
)

// classify wraps an SDK error with a plain message and a cloud error kind.
// 409 concurrent writes, 5xx and network errors get no kind: they are
// transient and retried with backoff.
func (p *Provider) classify(err error, t target, doing string) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	switch s := re.StatusCode; {
	case s == http.StatusTooManyRequests:
		return fmt.Errorf("%s: Azure is throttling requests; retrying later: %w: %w", doing, cloud.ErrThrottled, err)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return fmt.Errorf("%s: Keyless's Azure identity may not manage the federated credentials of managed identity %s in subscription %s; "+
			"give it the %s role on that identity: %w: %w", doing, t, t.sub, roleNeeded, cloud.ErrPermission, err)
	case s == http.StatusNotFound:
		p.forget(t)
		return fmt.Errorf("managed identity %s not found in resource group %s of subscription %s; "+
			"create it or correct the ServiceAccount's annotation: %w: %w", t.identity, t.rg, t.sub, cloud.ErrNotFound, err)
	case s == http.StatusMethodNotAllowed:
		return fmt.Errorf("%s: Azure does not support federated credentials on managed identities in the region of %s; "+
			"use an identity in another region: %w: %w", doing, t, cloud.ErrNotEnabled, err)
	case s == http.StatusBadRequest:
		return fmt.Errorf("%s: Azure rejected the request: %s: %w: %w", doing, cloudMessage(re), cloud.ErrInvalid, err)
	case s == http.StatusConflict && re.ErrorCode == codeConcurrentWrites:
		return fmt.Errorf("%s: another tool is writing federated credentials of managed identity %s at the same time; retrying later: %w",
			doing, t, err)
	}
	return fmt.Errorf("%s: Azure answered %d; retrying later: %w", doing, re.StatusCode, err)
}

// combinationExists reports Azure's refusal of a second credential with the same issuer and subject.
func combinationExists(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(cloudMessage(re)), msgCombinationExists)
}

// refused reports a write Azure turned down for what it would make (the
// limit of credentials among the reasons), not for who asks or when.
func refused(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusBadRequest ||
		re.StatusCode == http.StatusConflict && re.ErrorCode != codeConcurrentWrites)
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// cloudMessage is the message of ARM's CloudError body, or the error code.
func cloudMessage(re *azcore.ResponseError) string {
	if re.RawResponse != nil {
		if body, err := runtime.Payload(re.RawResponse); err == nil {
			var ce struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(body, &ce) == nil && ce.Error.Message != "" {
				return ce.Error.Message
			}
		}
	}
	return re.ErrorCode
}
