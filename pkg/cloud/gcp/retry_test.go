package gcp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// failFirst answers the first n requests whose path ends in op with code,
// in Google's error shape, and passes the rest to the simulator.
type failFirst struct {
	mu   sync.Mutex
	op   string
	code int
	n    int
}

func (f *failFirst) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		fail := strings.HasSuffix(r.URL.Path, f.op) && f.n > 0
		if fail {
			f.n--
		}
		f.mu.Unlock()
		if !fail {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.code)
		_, _ = w.Write([]byte(`{"error":{"code":` + strconv.Itoa(f.code) + `,"message":"injected"}}`))
	})
}

// TestRetriesThrottlingAndServerErrors: like the AWS and Azure SDKs, a
// call retries a 429 or 5xx twice (from a fresh read) before it gives up.
func TestRetriesThrottlingAndServerErrors(t *testing.T) {
	tests := []struct {
		name    string
		op      string
		code    int
		fails   int
		wantErr error // nil: the member is granted
	}{
		{"read throttled twice", ":getIamPolicy", http.StatusTooManyRequests, 2, nil},
		{"write failing twice", ":setIamPolicy", http.StatusServiceUnavailable, 2, nil},
		{"read throttled three times", ":getIamPolicy", http.StatusTooManyRequests, 3, cloud.ErrThrottled},
		{"not found is not retried", ":getIamPolicy", http.StatusNotFound, 1, cloud.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &failFirst{op: tt.op, code: tt.code, n: tt.fails}
			p, sim := newEnvWith(t, Options{}, f.wrap)
			_, err := p.Ensure(context.Background(), conn("app"))
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Ensure: %v, want the member granted after the retries", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("Ensure: %v, want %v", err, tt.wantErr)
			}
			granted := count(policy(t, sim), ksa("app"))
			if want := map[bool]int{true: 1, false: 0}[tt.wantErr == nil]; granted != want {
				t.Errorf("member granted %d times, want %d", granted, want)
			}
		})
	}
}
