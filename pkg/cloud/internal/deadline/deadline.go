// Package deadline bounds each provider call, so that a cloud endpoint
// that accepts a request and never answers cannot hold a worker, or the
// lock of an identity, for ever.
package deadline

import (
	"context"
	"fmt"
	"time"
)

// Default bounds a call when a provider's options give no timeout.
const Default = 30 * time.Second

// Or returns d, or Default when d is not positive.
func Or(d time.Duration) time.Duration {
	if d <= 0 {
		return Default
	}
	return d
}

// Call runs fn under a deadline d from now. When fn fails after that
// deadline, which ctx did not set, the error says so; it stays transient.
func Call[T any](ctx context.Context, d time.Duration, fn func(context.Context) (T, error)) (T, error) {
	bounded, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := fn(bounded)
	// The deadline's time rather than bounded.Err(): a timer inside fn (an
	// SDK's per-try timeout) may end it a moment before bounded's own.
	if end, _ := bounded.Deadline(); err != nil && ctx.Err() == nil && !time.Now().Before(end) {
		err = fmt.Errorf("no answer within %s (--cloud-timeout): %w", d, err)
	}
	return v, err
}
