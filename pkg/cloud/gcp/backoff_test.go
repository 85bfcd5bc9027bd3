package gcp

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestBackoff: the wait after the n-th concurrent change is Backoff doubled
// n-1 times, at most MaxBackoff, jittered to 50-100% of that. Time is the
// bubble's fake clock, so the waits are measured exactly.
func TestBackoff(t *testing.T) {
	tests := []struct {
		name           string
		backoff, max   time.Duration
		attempt        int
		wantLo, wantHi time.Duration
	}{
		{name: "first", backoff: time.Second, max: 8 * time.Second, attempt: 1, wantLo: 500 * time.Millisecond, wantHi: time.Second},
		{name: "second doubles", backoff: time.Second, max: 8 * time.Second, attempt: 2, wantLo: time.Second, wantHi: 2 * time.Second},
		{name: "third doubles again", backoff: time.Second, max: 8 * time.Second, attempt: 3, wantLo: 2 * time.Second, wantHi: 4 * time.Second},
		{name: "fourth reaches the maximum", backoff: time.Second, max: 8 * time.Second, attempt: 4, wantLo: 4 * time.Second, wantHi: 8 * time.Second},
		{name: "then stays there", backoff: time.Second, max: 8 * time.Second, attempt: 20, wantLo: 4 * time.Second, wantHi: 8 * time.Second},
		{name: "a maximum between two doublings", backoff: time.Second, max: 3 * time.Second, attempt: 3, wantLo: 1500 * time.Millisecond, wantHi: 3 * time.Second},
		{name: "defaults: first", attempt: 1, wantLo: DefaultBackoff / 2, wantHi: DefaultBackoff},
		{name: "defaults: maximum", attempt: 30, wantLo: DefaultMaxBackoff / 2, wantHi: DefaultMaxBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newProvider(stubAPI{}, Options{WorkloadPool: pool, Backoff: tt.backoff, MaxBackoff: tt.max})
			if err != nil {
				t.Fatal(err)
			}
			synctest.Test(t, func(t *testing.T) {
				for range 20 { // the jitter varies; every sample must be in range
					start := time.Now()
					if err := p.wait(context.Background(), tt.attempt); err != nil {
						t.Fatal(err)
					}
					if d := time.Since(start); d < tt.wantLo || d > tt.wantHi {
						t.Fatalf("attempt %d waited %v, want %v to %v", tt.attempt, d, tt.wantLo, tt.wantHi)
					}
				}
			})
		})
	}
}

// TestBackoffEndsWithContext: a context that ends during the wait ends it.
func TestBackoffEndsWithContext(t *testing.T) {
	p, err := newProvider(stubAPI{}, Options{WorkloadPool: pool, Backoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		if err := p.wait(ctx, 1); err != context.DeadlineExceeded {
			t.Errorf("wait = %v, want %v", err, context.DeadlineExceeded)
		}
		if d := time.Since(start); d != time.Minute {
			t.Errorf("waited %v, want the context's minute", d)
		}
	})
}
