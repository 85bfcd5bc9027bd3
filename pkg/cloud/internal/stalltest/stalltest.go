// Package stalltest checks, in the cloud providers' tests, that calls to a
// cloud endpoint that accepts requests and never answers end in time.
package stalltest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// slack is what a loaded machine may add to a deadline before the call
// returns; far less than "never".
const slack = 3 * time.Second

// EndsWithin fails t unless call returns a timeout error no sooner than
// deadline and well before deadline plus slack. A call that never returns
// fails t after that, leaving its goroutine to the stall's release.
func EndsWithin(t *testing.T, deadline time.Duration, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- call() }()
	select {
	case err := <-done:
		took := time.Since(start)
		if !IsTimeout(err) {
			t.Errorf("error after %v: %v; want a timeout", took, err)
		}
		if took < deadline || took > deadline+slack {
			t.Errorf("returned after %v, want about %v", took, deadline)
		}
		return err
	case <-time.After(deadline + slack):
		t.Fatalf("no answer after %v: the call has no deadline", deadline+slack)
		return nil
	}
}

// IsTimeout reports a context's deadline or a network timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
