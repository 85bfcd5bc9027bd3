package batch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder is a Run that records each batch's requests and blocks until
// released, so the test controls what queues behind it.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	started chan struct{}
	release chan struct{}
	ctxErr  chan error // the batch context's error when it is released
}

func newRecorder() *recorder {
	return &recorder{started: make(chan struct{}, 10), release: make(chan struct{}), ctxErr: make(chan error, 10)}
}

func (r *recorder) run(ctx context.Context, _ string, batch []*Call[int]) {
	var reqs []int
	for _, c := range batch {
		reqs = append(reqs, c.Req)
		c.Result.ID = "done"
	}
	r.mu.Lock()
	r.batches = append(r.batches, reqs)
	r.mu.Unlock()
	r.started <- struct{}{}
	select {
	case <-r.release:
	case <-ctx.Done():
	}
	r.ctxErr <- ctx.Err()
}

func waitQueued(t *testing.T, b *Batcher[int], key string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if b.Queued(key) == n {
			return
		}
	}
	t.Fatalf("%d changes never queued for %s (have %d)", n, key, b.Queued(key))
}

func TestQueuedChangesShareTheNextBatch(t *testing.T) {
	r := newRecorder()
	b := &Batcher[int]{Run: r.run}
	ctx := context.Background()
	var wg sync.WaitGroup
	do := func(reqs ...int) {
		wg.Go(func() {
			cs, err := b.Do(ctx, "k", reqs...)
			if err != nil || len(cs) != len(reqs) || cs[0].Result.ID != "done" {
				t.Errorf("Do(%v) = %v, %v", reqs, cs, err)
			}
		})
	}
	do(1)
	<-r.started
	do(2, 3)
	waitQueued(t, b, "k", 2)
	do(4)
	waitQueued(t, b, "k", 3)
	r.release <- struct{}{}
	<-r.started
	r.release <- struct{}{}
	wg.Wait()
	if want := [][]int{{1}, {2, 3, 4}}; !slices.EqualFunc(r.batches, want, slices.Equal) {
		t.Errorf("batches %v, want %v", r.batches, want)
	}
	if n := b.Queued("k"); n != 0 {
		t.Errorf("%d still queued", n)
	}
}

func TestGivingUp(t *testing.T) {
	tests := []struct {
		name        string
		quitRunning bool // the caller of the running batch gives up, not a queued one
		wantBatches [][]int
		wantCtxErr  error // of the first batch
	}{
		{"while queued: dropped", false, [][]int{{1}}, nil},
		{"last waiter of the running batch: cancelled", true, [][]int{{1}, {2}}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder()
			b := &Batcher[int]{Run: r.run}
			ctx1, cancel1 := context.WithCancel(context.Background())
			ctx2, cancel2 := context.WithCancel(context.Background())
			defer cancel1()
			defer cancel2()
			errs := make(chan error, 2)
			go func() { _, err := b.Do(ctx1, "k", 1); errs <- err }()
			<-r.started
			go func() { _, err := b.Do(ctx2, "k", 2); errs <- err }()
			waitQueued(t, b, "k", 1)
			if tt.quitRunning {
				cancel1()
				if err := <-errs; !errors.Is(err, context.Canceled) {
					t.Errorf("the quitter got %v, want context.Canceled", err)
				}
				if err := <-r.ctxErr; !errors.Is(err, tt.wantCtxErr) {
					t.Errorf("batch context %v, want %v", err, tt.wantCtxErr)
				}
				<-r.started
				r.release <- struct{}{}
				if err := <-r.ctxErr; err != nil {
					t.Errorf("second batch context %v, want none", err)
				}
			} else {
				cancel2()
				if err := <-errs; !errors.Is(err, context.Canceled) {
					t.Errorf("the quitter got %v, want context.Canceled", err)
				}
				r.release <- struct{}{}
				if err := <-r.ctxErr; err != nil {
					t.Errorf("batch context %v, want none", err)
				}
			}
			if err := <-errs; err != nil {
				t.Errorf("the other caller got %v", err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if !slices.EqualFunc(r.batches, tt.wantBatches, slices.Equal) {
				t.Errorf("batches %v, want %v", r.batches, tt.wantBatches)
			}
		})
	}
}
