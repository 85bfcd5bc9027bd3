// Package batch groups concurrent changes to one cloud object (a Google
// service account's IAM policy, an Azure identity's credentials) so that
// they share one read-modify-write.
package batch

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// Batcher commits the changes to one key in groups: while a batch of a key
// is in flight, new changes queue, and the next batch takes every queued
// change at once. One goroutine per busy key runs the batches in turn and
// ends when the queue is empty.
//
// A batch runs under its first caller's context values but not its
// deadline, and is cancelled when every caller in it has stopped waiting,
// so one caller giving up never fails the others, or when Timeout has
// passed. A change whose caller gives up while it is still queued is
// dropped; once taken into a batch, it may still be applied.
type Batcher[R any] struct {
	// Run applies a batch, setting every call's res or err.
	Run func(ctx context.Context, key string, batch []*Call[R])
	// Timeout, if positive, is the deadline of each batch from its start,
	// so that a cloud call that is never answered cannot hold the key's
	// lane (and whatever Run locks) for ever.
	Timeout time.Duration

	mu    sync.Mutex
	lanes map[string]*lane[R] // keys with a goroutine; gone when idle
}

type lane[R any] struct{ queued []*Call[R] }

// Call is one change and, once done is closed, its outcome.
type Call[R any] struct {
	Req R
	// Result and Err are the outcome, set by Run.
	Result cloud.Result
	Err    error

	ctx  context.Context // for its values only (the logger)
	done chan struct{}
	in   *flight // the batch it was taken into; nil while queued
}

// flight is a batch in progress.
type flight struct {
	waiting int // callers still waiting
	cancel  context.CancelFunc
}

// Do queues reqs as one group, which no batch splits, and waits for their
// outcomes or for ctx to end.
func (b *Batcher[R]) Do(ctx context.Context, key string, reqs ...R) ([]*Call[R], error) {
	cs := make([]*Call[R], len(reqs))
	for i, r := range reqs {
		cs[i] = &Call[R]{Req: r, ctx: ctx, done: make(chan struct{})}
	}
	b.mu.Lock()
	if b.lanes == nil {
		b.lanes = map[string]*lane[R]{}
	}
	l := b.lanes[key]
	if l == nil {
		l = &lane[R]{}
		b.lanes[key] = l
		go b.drain(key, l)
	}
	l.queued = append(l.queued, cs...)
	b.mu.Unlock()

	for _, c := range cs {
		select {
		case <-c.done:
		case <-ctx.Done():
			b.abandon(l, cs)
			return nil, ctx.Err()
		}
	}
	return cs, nil
}

// drain runs l's batches until its queue is empty.
func (b *Batcher[R]) drain(key string, l *lane[R]) {
	for {
		b.mu.Lock()
		batch := l.queued
		if len(batch) == 0 {
			delete(b.lanes, key)
			b.mu.Unlock()
			return
		}
		l.queued = nil
		ctx, cancel := b.context(batch[0].ctx)
		f := &flight{waiting: len(batch), cancel: cancel}
		for _, c := range batch {
			c.in = f
		}
		b.mu.Unlock()

		b.Run(ctx, key, batch)
		cancel()

		b.mu.Lock()
		for _, c := range batch {
			close(c.done)
		}
		b.mu.Unlock()
	}
}

// context is a batch's: ctx's values, no deadline but Timeout.
func (b *Batcher[R]) context(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithoutCancel(ctx)
	if b.Timeout > 0 {
		return context.WithTimeout(ctx, b.Timeout)
	}
	return context.WithCancel(ctx)
}

// abandon gives up cs: queued ones are dropped, and a batch nobody waits
// for any more is cancelled.
func (b *Batcher[R]) abandon(l *lane[R], cs []*Call[R]) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range cs {
		select {
		case <-c.done:
			continue
		default:
		}
		if c.in == nil {
			l.queued = slices.DeleteFunc(l.queued, func(q *Call[R]) bool { return q == c })
			continue
		}
		if c.in.waiting--; c.in.waiting == 0 {
			c.in.cancel()
		}
	}
}

// Queued returns how many changes to key wait behind the batch in flight.
func (b *Batcher[R]) Queued(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l := b.lanes[key]; l != nil {
		return len(l.queued)
	}
	return 0
}
