// Package ratetest checks, in the cloud providers' tests, that the HTTP
// requests an SDK client sends never outpace its rate limiter.
package ratetest

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Requests records when HTTP requests are sent: at the client, right below
// the limiter, where the network's jitter does not blur the pace, or at the
// simulator. The zero value is ready to use.
type Requests struct {
	mu    sync.Mutex
	times []time.Time
}

// Add records one request now.
func (a *Requests) Add() {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
}

// Record records the requests reaching next.
func (a *Requests) Record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.Add()
		next.ServeHTTP(w, r)
	})
}

// WarmedUp forgets what was recorded so far: the first requests of a new
// client are slow to leave it (lazy set-up), which would blur the pace.
func (a *Requests) WarmedUp() {
	a.mu.Lock()
	a.times = nil
	a.mu.Unlock()
}

// Count returns how many requests were recorded.
func (a *Requests) Count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.times)
}

// Check fails t unless minRequests or more requests were sent and every stretch
// of them holds no more than the limiter allows: burst plus limit per
// second of the stretch, stretched by slack for the time between a grant
// and its recording.
func (a *Requests) Check(t testing.TB, limit rate.Limit, burst, minRequests int) {
	const slack = 75 * time.Millisecond
	t.Helper()
	a.mu.Lock()
	times := slices.Clone(a.times)
	a.mu.Unlock()
	slices.SortFunc(times, func(x, y time.Time) int { return x.Compare(y) })
	if len(times) < minRequests {
		t.Fatalf("%d requests, want at least %d for a meaningful check", len(times), minRequests)
	}
	for i := range times {
		for j := i + 1; j < len(times); j++ {
			span := times[j].Sub(times[i])
			if n, allowed := j-i+1, float64(burst)+float64(limit)*(span+slack).Seconds(); float64(n) > allowed {
				t.Fatalf("%d requests within %v, want at most %.1f at %v/s with burst %d", n, span, allowed, limit, burst)
			}
		}
	}
	t.Logf("%d requests in %v", len(times), times[len(times)-1].Sub(times[0]))
}

// EndingContext is a context that ends before the limiter's next token.
type EndingContext struct {
	Name string
	Ctx  func(t *testing.T) context.Context
}

// EndingContexts are the ways a call's context can end while it waits for
// the limiter: each call given one must return at once, sending nothing.
func EndingContexts() []EndingContext {
	return []EndingContext{
		{"cancelled before the call", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}},
		{"cancelled while waiting", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx
		}},
		{"deadline before the next token", func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}},
	}
}
