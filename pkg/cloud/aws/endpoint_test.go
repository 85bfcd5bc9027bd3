package aws

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEndpointValidation: an endpoint needs an http or https scheme and a
// host, each on its own.
func TestEndpointValidation(t *testing.T) {
	tests := []struct {
		endpoint string
		valid    bool
	}{
		{"https://eks.us-east-1.amazonaws.com", true},
		{"http://127.0.0.1:8080", true},
		{"ftp://eks.us-east-1.amazonaws.com", false},
		{"https://", false},
		{"http:///path", false},
		{"eks.us-east-1.amazonaws.com", false},
		{"http://[::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			err := Options{ClusterName: testCluster, Region: testRegion, Endpoint: tt.endpoint}.validate()
			if (err == nil) != tt.valid {
				t.Errorf("validate() = %v, want valid = %t", err, tt.valid)
			}
			if err != nil && !strings.Contains(err.Error(), "is not an absolute http or https URL") {
				t.Errorf("validate() = %v, want the endpoint named", err)
			}
		})
	}
}

// TestAccountIDValidation: --aws-account-id is exactly 12 digits; each end
// of 0-9 is one, the characters just outside are not.
func TestAccountIDValidation(t *testing.T) {
	tests := []struct {
		id    string
		valid bool
	}{
		{"000000000000", true},
		{"999999999999", true},
		{"012345678909", true},
		{"01234567890/", false},
		{"01234567890:", false},
		{"12345678901", false},
		{"1234567890123", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := Options{ClusterName: testCluster, Region: testRegion, AccountID: tt.id}.validate()
			if (err == nil) != tt.valid {
				t.Errorf("validate() = %v, want valid = %t", err, tt.valid)
			}
		})
	}
}

// ignoreListFilter drops the namespace and serviceAccount filters of List,
// as a server that does not filter would.
func ignoreListFilter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/pod-identity-associations") {
			q := r.URL.Query()
			q.Del("namespace")
			q.Del("serviceAccount")
			r.URL.RawQuery = q.Encode()
			r.RequestURI = (&url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}).String()
		}
		next.ServeHTTP(w, r)
	})
}

// TestLookupChecksTheFilter: when EKS's 409 leads to a List, only the
// ServiceAccount's own association is taken from it, whatever the server
// returns besides.
func TestLookupChecksTheFilter(t *testing.T) {
	e := newEnv(t, ignoreListFilter)
	// Listed before ns/sa's: same namespace or same name, not both.
	e.seed(t, "a-ns", "sa", roleARN("theirs"), nil)
	e.seed(t, "ns", "a-sa", roleARN("theirs"), nil)
	own := e.seed(t, "ns", "sa", roleARN("orders"), nil)
	res, err := e.p.Ensure(context.Background(), conn("ns", "sa", role("orders")))
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != own.AssociationID {
		t.Errorf("Ensure %+v, want ns/sa's association %s adopted", res, own.AssociationID)
	}
}
