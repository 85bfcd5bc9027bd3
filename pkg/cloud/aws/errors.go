package aws

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// classify wraps an EKS error from op with the kind the controller acts on,
// next to the SDK error and a sentence saying what to do. s is the
// ServiceAccount the call was for (nil: none); role the role ARN involved.
// What is not recognised stays kindless: transient, retried with backoff.
func (p *Provider) classify(op string, s *cloud.Subject, role string, err error) error {
	code, status := errorCode(err)
	what := "EKS " + op + " on cluster " + p.cluster
	if s != nil {
		what += " for " + s.Namespace + "/" + s.Name
	}
	switch {
	case code == "ThrottlingException" || code == "TooManyRequestsException" || status == http.StatusTooManyRequests:
		return fmt.Errorf("%s was throttled; retrying with backoff: %w: %w", what, cloud.ErrThrottled, err)
	case code == "AccessDeniedException" || status == http.StatusForbidden:
		grant := "eks:" + op
		if role != "" && (op == "CreatePodIdentityAssociation" || op == "UpdatePodIdentityAssociation") {
			grant += " on the cluster, and iam:PassRole on " + role
			if op == "CreatePodIdentityAssociation" {
				grant += ", and eks:TagResource"
			}
		}
		return fmt.Errorf("%s was denied: Keyless's AWS credentials need %s: %w: %w", what, grant, cloud.ErrPermission, err)
	case code == "ResourceLimitExceededException":
		return fmt.Errorf("%s failed: EKS allows at most 5,000 pod identity associations per cluster, a quota that cannot be raised; "+
			"delete associations no longer needed: %w: %w", what, cloud.ErrLimit, err)
	case code == "ResourceNotFoundException" || code == "NotFoundException":
		// Association 404s are answered before classify (notFound), so what
		// is missing here is the cluster: a wrong name or region, not a sign
		// that anything Keyless made is gone.
		return fmt.Errorf("EKS cluster %s not found in region %s; check --cluster-name and --aws-region: %w: %w",
			p.cluster, p.region, cloud.ErrClusterNotFound, err)
	case code == "InvalidParameterException" || code == "InvalidRequestException":
		hint := ""
		if role != "" && strings.Contains(strings.ToLower(apiMessage(err)), "role") {
			hint = fmt.Sprintf("; check %s (role %s): the role must exist in the cluster's account and trust pods.eks.amazonaws.com",
				annotations.KeyAWSRole, role)
		}
		return fmt.Errorf("%s was rejected: %s%s: %w: %w", what, apiMessage(err), hint, cloud.ErrInvalid, err)
	}
	return fmt.Errorf("%s failed; retrying later: %w", what, err)
}

// errorCode returns the EKS error code and HTTP status of err, if any.
func errorCode(err error) (string, int) {
	var code string
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var resp interface{ HTTPStatusCode() int }
	if errors.As(err, &resp) {
		return code, resp.HTTPStatusCode()
	}
	return code, 0
}

func apiMessage(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorMessage()
	}
	return err.Error()
}

// notFound reports whether EKS answered 404 for an association, not for
// its cluster.
func notFound(err error) bool {
	code, _ := errorCode(err)
	return (code == "ResourceNotFoundException" || code == "NotFoundException") && !clusterMissing(err)
}

// clusterMissing reports EKS's 404 for the cluster named in the path, which
// every operation under /clusters/NAME answers with "No cluster found for
// name: NAME.".
func clusterMissing(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf) && strings.HasPrefix(nf.ErrorMessage(), msgNoCluster)
}

// msgNoCluster starts EKS's message for a cluster that does not exist.
const msgNoCluster = "No cluster found for name: "
