package aws

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestRetryMaxAttempts: the option sets how many times the SDK tries a
// call that fails with a 500; 0 keeps the SDK's default of 3.
func TestRetryMaxAttempts(t *testing.T) {
	tests := []struct {
		attempts int
		want     int32
	}{
		{attempts: 0, want: 3},
		{attempts: 1, want: 1},
		{attempts: 2, want: 2},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Amzn-ErrorType", "ServerException")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"message":"injected"}`))
			}))
			defer srv.Close()
			t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
			p, err := New(context.Background(), Options{ClusterName: testCluster, Region: testRegion, Endpoint: srv.URL,
				Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: tt.attempts})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if _, err := p.Ensure(context.Background(), conn("ns", "sa", role("orders"))); err == nil {
				t.Fatal("Ensure succeeded against a failing endpoint")
			}
			if n := calls.Load(); n != tt.want {
				t.Errorf("%d requests, want %d", n, tt.want)
			}
		})
	}
}
