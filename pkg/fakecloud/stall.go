package fakecloud

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// Stall sits in front of a simulator and, while on, accepts every request
// and never answers it, as a stuck proxy or endpoint does: the request is
// held until the client gives up or Release is called, which drops the
// connection without an answer. Off, requests pass to the simulator.
type Stall struct {
	next    http.Handler
	on      atomic.Bool
	held    atomic.Int64
	release chan struct{}
	once    sync.Once
}

// NewStall returns a Stall in front of next, on.
func NewStall(next http.Handler) *Stall {
	s := &Stall{next: next, release: make(chan struct{})}
	s.on.Store(true)
	return s
}

// ServeHTTP holds the request while s is on, or passes it on.
func (s *Stall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.on.Load() {
		s.next.ServeHTTP(w, r)
		return
	}
	s.held.Add(1)
	select {
	case <-r.Context().Done():
	case <-s.release:
	}
	panic(http.ErrAbortHandler) // no answer at all, not even a status line
}

// Set turns stalling on or off for the requests that come next.
func (s *Stall) Set(on bool) { s.on.Store(on) }

// Held returns how many requests were held so far.
func (s *Stall) Held() int { return int(s.held.Load()) }

// Release lets go of every request held, now and later; call it before
// the server's Close, which waits for its handlers.
func (s *Stall) Release() { s.once.Do(func() { close(s.release) }) }
