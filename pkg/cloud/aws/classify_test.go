package aws

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// failDescribeCluster answers DescribeCluster with status and, if set, the
// error type errType, and passes every other call to the simulator.
func failDescribeCluster(status int, errType string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != "/clusters/"+testCluster {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if errType != "" {
				w.Header().Set("X-Amzn-ErrorType", errType)
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"message":"injected"}`))
		})
	}
}

// TestClassifyEachAlternative: every error code and HTTP status that makes
// an EKS error one kind does so on its own.
func TestClassifyEachAlternative(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		errType  string
		wantKind error // nil: transient, no kind
	}{
		{name: "ThrottlingException", status: http.StatusBadRequest, errType: "ThrottlingException", wantKind: cloud.ErrThrottled},
		{name: "TooManyRequestsException", status: http.StatusBadRequest, errType: "TooManyRequestsException", wantKind: cloud.ErrThrottled},
		{name: "429 of another code", status: http.StatusTooManyRequests, errType: "SlowDown", wantKind: cloud.ErrThrottled},
		{name: "AccessDeniedException", status: http.StatusBadRequest, errType: "AccessDeniedException", wantKind: cloud.ErrPermission},
		{name: "403 of another code", status: http.StatusForbidden, errType: "UnrecognizedClientException", wantKind: cloud.ErrPermission},
		{name: "ResourceNotFoundException", status: http.StatusNotFound, errType: "ResourceNotFoundException", wantKind: cloud.ErrClusterNotFound},
		{name: "NotFoundException", status: http.StatusNotFound, errType: "NotFoundException", wantKind: cloud.ErrClusterNotFound},
		{name: "InvalidParameterException", status: http.StatusBadRequest, errType: "InvalidParameterException", wantKind: cloud.ErrInvalid},
		{name: "InvalidRequestException", status: http.StatusBadRequest, errType: "InvalidRequestException", wantKind: cloud.ErrInvalid},
		{name: "ResourceLimitExceededException", status: http.StatusBadRequest, errType: "ResourceLimitExceededException", wantKind: cloud.ErrLimit},
		{name: "another 400", status: http.StatusBadRequest, errType: "ClientException"},
		{name: "a 404 of another code", status: http.StatusNotFound, errType: "NoSuchThing"},
		{name: "503", status: http.StatusServiceUnavailable, errType: "ServiceUnavailableException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, failDescribeCluster(tt.status, tt.errType))
			_, err := e.p.Ensure(context.Background(), conn("ns", "sa", role("orders")))
			if err == nil {
				t.Fatal("Ensure succeeded, want an error")
			}
			for _, k := range kinds {
				if got := errors.Is(err, k); got != (k == tt.wantKind) {
					t.Errorf("errors.Is(err, %q) = %t; err: %v", k, got, err)
				}
			}
		})
	}
}

// TestRecreatedTwice: each re-creation of an association deleted by
// someone else takes a token of its own, so EKS never answers one with an
// association deleted earlier.
func TestRecreatedTwice(t *testing.T) {
	e := newEnv(t, nil)
	c := conn("ns", "sa", role("orders"))
	ids := map[string]bool{}
	for i := range 3 {
		c.KnownID = e.known
		res := e.mustEnsure(t, c)
		if res.Action != cloud.Created || ids[res.ID] {
			t.Fatalf("Ensure %d: %+v, want a new association", i, res)
		}
		ids[res.ID] = true
		a := e.sim.Associations()
		if len(a) != 1 || a[0].AssociationID != res.ID {
			t.Fatalf("Ensure %d answered %s; the associations are %+v", i, res.ID, a)
		}
		if err := e.sim.DeleteAssociation(testCluster, res.ID); err != nil {
			t.Fatal(err)
		}
	}
}
