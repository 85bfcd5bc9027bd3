package gcp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/api/googleapi"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

const poolMissing = "Identity Pool does not exist ("

// isRetryable: throttled (429) or a server error (5xx).
func isRetryable(err error) bool {
	var g *googleapi.Error
	return errors.As(err, &g) && (g.Code == http.StatusTooManyRequests || g.Code >= 500)
}

func isAborted(err error) bool {
	var g *googleapi.Error
	return errors.As(err, &g) && g.Code == http.StatusConflict
}

// classify turns an IAM error into one of cloud's kinds, saying what is
// wrong and what to do. Errors without a kind (5xx, network) are transient.
func (p *Provider) classify(doing string, err error) error {
	if err == nil {
		return nil
	}
	var g *googleapi.Error
	if !errors.As(err, &g) {
		return fmt.Errorf("%s the IAM policy: %w", doing, err)
	}
	switch {
	case g.Code == http.StatusBadRequest && strings.Contains(g.Message, poolMissing):
		pool := missingPool(g.Message)
		if pool == "" || pool == p.pool {
			return fmt.Errorf("the workload pool %s does not exist: Workload Identity is not enabled for project %s; enable Workload Identity on a GKE cluster of the project (%w): %w",
				p.pool, p.project, cloud.ErrNotEnabled, err)
		}
		// IAM checks every member on each write, so a member of a pool that
		// is gone blocks all changes to the policy until someone removes it.
		return fmt.Errorf("the policy holds a member of workload pool %s, which does not exist, so IAM refuses every change to it; remove that pool's members from the policy (%w): %w",
			pool, cloud.ErrInvalid, err)
	case g.Code == http.StatusBadRequest:
		return fmt.Errorf("IAM refused the new policy as invalid (%w): %w", cloud.ErrInvalid, err)
	case g.Code == http.StatusNotFound:
		return fmt.Errorf("the service account does not exist; create it or correct the annotation (%w): %w", cloud.ErrNotFound, err)
	case g.Code == http.StatusForbidden:
		return fmt.Errorf("the Google identity Keyless runs as may not %s the service account's IAM policy; grant it iam.serviceAccounts.getIamPolicy and iam.serviceAccounts.setIamPolicy there, e.g. with roles/iam.serviceAccountAdmin on the service account (%w): %w",
			verb(doing), cloud.ErrPermission, err)
	case g.Code == http.StatusTooManyRequests:
		return fmt.Errorf("IAM quota exceeded %s the policy; backing off (%w): %w", doing, cloud.ErrThrottled, err)
	default:
		return fmt.Errorf("IAM failed %s the policy; will try again: %w", doing, err)
	}
}

// missingPool returns POOL of "Identity Pool does not exist (POOL). ...".
func missingPool(msg string) string {
	_, rest, _ := strings.Cut(msg, poolMissing)
	pool, _, ok := strings.Cut(rest, ")")
	if !ok {
		return ""
	}
	return pool
}

func verb(doing string) string {
	if doing == "writing" {
		return "change"
	}
	return "read"
}
