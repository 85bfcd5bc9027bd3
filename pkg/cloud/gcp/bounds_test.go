package gcp

import (
	"context"
	"net/http"
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
		{"https://iam.googleapis.com/", true},
		{"http://127.0.0.1:8080", true},
		{"ftp://iam.googleapis.com/", false},
		{"https://", false},
		{"iam.googleapis.com", false},
		{"http://[::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			err := Options{WorkloadPool: pool, Endpoint: tt.endpoint}.validate()
			if (err == nil) != tt.valid {
				t.Errorf("validate() = %v, want valid = %t", err, tt.valid)
			}
		})
	}
}

// TestRetriesEveryServerError: 500 is a server error like 503, and is
// retried.
func TestRetriesEveryServerError(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		f := &failFirst{op: ":getIamPolicy", code: code, n: 1}
		p, sim := newEnvWith(t, Options{}, f.wrap)
		if _, err := p.Ensure(context.Background(), conn("app")); err != nil {
			t.Fatalf("%d: Ensure: %v, want the member granted after a retry", code, err)
		}
		if n := count(policy(t, sim), ksa("app")); n != 1 {
			t.Errorf("%d: member granted %d times, want 1", code, n)
		}
	}
}

// TestPoolProjectLength: a project ID is 6 to 30 characters, both ends
// included, of lower-case letters, digits and "-".
func TestPoolProjectLength(t *testing.T) {
	tests := []struct {
		project string
		valid   bool
	}{
		{"abcdef", true},
		{"zyxwv9", true}, // z first, a digit last
		{"ab0c-9", true},
		{"ab_cde", false},
		{"abCdef", false},
		{"a" + strings.Repeat("b", 29), true},
		{"abcde", false},
		{"a" + strings.Repeat("b", 30), false},
	}
	for _, tt := range tests {
		err := Options{WorkloadPool: tt.project + ".svc.id.goog"}.validate()
		if (err == nil) != tt.valid {
			t.Errorf("project of %d characters: %v, want valid = %t", len(tt.project), err, tt.valid)
		}
	}
}
