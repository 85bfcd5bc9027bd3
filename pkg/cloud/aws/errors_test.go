package aws

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

var kinds = []error{cloud.ErrConflict, cloud.ErrNotFound, cloud.ErrClusterNotFound, cloud.ErrPermission, cloud.ErrLimit,
	cloud.ErrNotEnabled, cloud.ErrInvalid, cloud.ErrThrottled}

func TestErrors(t *testing.T) {
	byARN := annotations.AWSRole{Partition: "aws", Account: testAccount, Path: "/", Name: "orders"}
	tests := []struct {
		name     string
		wrap     func(http.Handler) http.Handler
		setup    func(*testing.T, *env)
		role     annotations.AWSRole
		wantKind error // nil: transient, no kind
		wantMsg  []string
	}{
		{name: "throttled", setup: faults(fakecloud.Faults{Throttle: 1}), role: role("orders"),
			wantKind: cloud.ErrThrottled, wantMsg: []string{"EKS DescribeCluster on cluster prod was throttled; retrying with backoff", "ThrottlingException"}},
		{name: "server error: transient", setup: faults(fakecloud.Faults{ServerError: 1}), role: byARN,
			wantMsg: []string{"EKS CreatePodIdentityAssociation on cluster prod for ns/sa failed; retrying later", "StatusCode: 500", "ServerException"}},
		{name: "denied", wrap: deny("POST"), role: role("orders"), wantKind: cloud.ErrPermission,
			wantMsg: []string{"Keyless's AWS credentials need eks:CreatePodIdentityAssociation on the cluster, and iam:PassRole on arn:aws:iam::111122223333:role/orders", "AccessDeniedException"}},
		{name: "limit", setup: func(_ *testing.T, e *env) { e.sim.SetLimit(0) }, role: role("orders"), wantKind: cloud.ErrLimit,
			wantMsg: []string{"EKS allows at most 5,000 pod identity associations per cluster", "ResourceLimitExceededException"}},
		{name: "role does not exist", setup: func(_ *testing.T, e *env) { e.sim.AddRole(roleARN("other")) }, role: role("orders"),
			wantKind: cloud.ErrInvalid, wantMsg: []string{"Role provided in the request does not exist; check keyless.dev/aws-role (role arn:aws:iam::111122223333:role/orders)"}},
		{name: "no such cluster, role by name", setup: renameCluster, role: role("orders"), wantKind: cloud.ErrClusterNotFound,
			wantMsg: []string{"EKS cluster nope not found in region us-west-2; check --cluster-name and --aws-region", "No cluster found for name: nope."}},
		{name: "no such cluster, role by ARN", setup: renameCluster, role: byARN, wantKind: cloud.ErrClusterNotFound,
			wantMsg: []string{"EKS cluster nope not found in region us-west-2; check --cluster-name and --aws-region"}},
		{name: "someone else's association, other role", setup: seeded(roleARN("theirs"), nil), role: role("orders"), wantKind: cloud.ErrConflict,
			wantMsg: []string{"of ns/sa points at role arn:aws:iam::111122223333:role/theirs and was not created by Keyless; delete it or point keyless.dev/aws-role at arn:aws:iam::111122223333:role/theirs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.wrap)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			_, err := e.p.Ensure(context.Background(), conn("ns", "sa", tt.role))
			if err == nil {
				t.Fatal("Ensure succeeded, want an error")
			}
			for _, k := range kinds {
				if got := errors.Is(err, k); got != (k == tt.wantKind) {
					t.Errorf("errors.Is(err, %q) = %t; err: %v", k, got, err)
				}
			}
			if cloud.Permanent(err) != (tt.wantKind != nil && tt.wantKind != cloud.ErrThrottled) {
				t.Errorf("Permanent = %t for %v", cloud.Permanent(err), err)
			}
			var apiErr smithy.APIError
			if tt.wantKind != cloud.ErrConflict && !errors.As(err, &apiErr) {
				t.Errorf("the SDK error is not wrapped: %v", err)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q\nwant it to contain %q", err, m)
				}
			}
		})
	}
}

func faults(f fakecloud.Faults) func(*testing.T, *env) {
	return func(_ *testing.T, e *env) { e.sim.SetFaults(f) }
}

func renameCluster(_ *testing.T, e *env) { e.p.cluster = "nope" }

// deny answers requests of method with EKS's 403, as IAM would.
func deny(method string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != method {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException:http://internal.amazon.com/coral/com.amazonaws.eks/")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"User: arn:aws:sts::111122223333:assumed-role/keyless/x is not authorized to perform: eks:CreatePodIdentityAssociation"}`))
		})
	}
}

func TestConflictOnSettings(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(t, "ns", "sa", roleARN("orders"), nil)
	c := conn("ns", "sa", role("orders"))
	c.AWS.DisableSessionTags = true
	_, err := e.p.Ensure(context.Background(), c)
	want := `has targetRoleArn "" and disableSessionTags false and was not created by Keyless; delete it or make keyless.dev/aws-target-role and keyless.dev/aws-session-tags match it`
	if !errors.Is(err, cloud.ErrConflict) || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want ErrConflict saying %q", err, want)
	}
}
