package batch

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBatchHasADeadline: a batch runs without its callers' deadlines (one
// caller giving up must not fail the others), so it has one of its own:
// a Run stuck on a call that never answers ends after Timeout, even for a
// caller without any deadline, and the key's next batch runs.
func TestBatchHasADeadline(t *testing.T) {
	const timeout = 100 * time.Millisecond
	r := newRecorder()
	b := &Batcher[int]{Run: r.run, Timeout: timeout}

	type outcome struct {
		cs  []*Call[int]
		err error
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		cs, err := b.Do(context.Background(), "k", 1)
		done <- outcome{cs, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(timeout + 5*time.Second):
		close(r.release)
		t.Fatal("the batch never ended: it has no deadline")
	}
	if o.err != nil {
		t.Fatalf("Do = %v, want the batch's outcome", o.err)
	}
	if err := <-r.ctxErr; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the batch's context ended with %v, want its deadline", err)
	}
	if d := time.Since(start); d < timeout {
		t.Errorf("the batch ended after %v, before its deadline of %v", d, timeout)
	}

	close(r.release)
	cs, err := b.Do(context.Background(), "k", 2)
	if err != nil || len(cs) != 1 || cs[0].Result.ID != "done" {
		t.Errorf("the next Do = %v, %v; want it run", cs, err)
	}
	if err := <-r.ctxErr; err != nil {
		t.Errorf("the next batch's context ended with %v, want it alive while it ran", err)
	}
}
