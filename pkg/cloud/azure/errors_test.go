package azure

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

var kinds = []error{cloud.ErrConflict, cloud.ErrNotFound, cloud.ErrPermission, cloud.ErrLimit, cloud.ErrNotEnabled, cloud.ErrInvalid, cloud.ErrThrottled}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name      string
		fail      string // which request fails: "identity", "list", PUT or DELETE
		status    int
		code, msg string
		want      error // nil: transient, no kind
		contains  string
	}{
		{"identity read forbidden", "identity", 403, "AuthorizationFailed", "no read", cloud.ErrPermission, "Managed Identity Federated Identity Credential Contributor"},
		{"list forbidden", "list", 403, "AuthorizationFailed", "no read", cloud.ErrPermission, "role on that identity"},
		{"write unauthorized", http.MethodPut, 401, "InvalidAuthenticationToken", "bad token", cloud.ErrPermission, ""},
		{"write forbidden", http.MethodPut, 403, "AuthorizationFailed", "no write", cloud.ErrPermission, ""},
		{"identity missing", "identity", 404, "ResourceNotFound", "gone", cloud.ErrNotFound,
			"managed identity uami-web not found in resource group rg-apps of subscription " + testSub},
		{"parent missing on write", http.MethodPut, 404, "NotFound", "The parent user-assigned identity doesn't exist.", cloud.ErrNotFound, ""},
		{"invalid", http.MethodPut, 400, "BadRequest", "Federated identity credentials must have exactly one audience.", cloud.ErrInvalid,
			"Federated identity credentials must have exactly one audience."},
		{"region without support", http.MethodPut, 405, "MethodNotAllowed", "Support for federated identity credentials not enabled", cloud.ErrNotEnabled, "another region"},
		{"concurrent writes", http.MethodPut, 409, codeConcurrentWrites, "Too many Federated Identity Credentials are written concurrently", nil, "same time"},
		{"concurrent deletes", http.MethodDelete, 409, codeConcurrentWrites, "Too many Federated Identity Credentials are written concurrently", nil, "same time"},
		{"throttled", http.MethodPut, 429, "TooManyRequests", "slow down", cloud.ErrThrottled, ""},
		{"server error", http.MethodPut, 500, "InternalServerError", "oops", nil, ""},
		{"unavailable", "list", 503, "ServiceUnavailable", "later", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !failing(r, tt.fail) {
						next.ServeHTTP(w, r)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(tt.status)
					fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, tt.code, tt.msg)
				})
			})
			if tt.fail == "list" {
				// Azure refuses the PUT for this credential, so Ensure lists.
				e.seed(t, "made-by-hand", testIssuer, subject("ns", "app"))
			}
			var err error
			if tt.fail == http.MethodDelete {
				_, err = e.p.Remove(ctx(t), conn("ns", "app"))
			} else {
				_, err = e.p.Ensure(ctx(t), conn("ns", "app"))
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, k := range kinds {
				if errors.Is(err, k) != (k == tt.want) {
					t.Errorf("errors.Is(err, %v) = %v; err: %v", k, errors.Is(err, k), err)
				}
			}
			if cloud.Permanent(err) != (tt.want != nil && tt.want != cloud.ErrThrottled) {
				t.Errorf("Permanent = %v for %v", cloud.Permanent(err), err)
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tt.status {
				t.Errorf("the SDK error is not wrapped: %v", err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error does not say %q: %v", tt.contains, err)
			}
		})
	}
}

// failing reports whether r is the request a test case makes fail.
func failing(r *http.Request, which string) bool {
	p := strings.ToLower(r.URL.Path)
	switch which {
	case "identity":
		return r.Method == http.MethodGet && strings.HasSuffix(p, "/userassignedidentities/"+testUAMI)
	case "list":
		return r.Method == http.MethodGet && strings.HasSuffix(p, "/federatedidentitycredentials")
	}
	return r.Method == which
}
