// Package fakecloud holds wire-level simulators of the cloud APIs Keyless
// calls (EKS Pod Identity, Azure managed identities, Google IAM), one
// package per cloud. Each is an http.Handler speaking the real protocol with
// its real error shapes, for the real SDK clients to talk to: in tests
// through httptest, and in keyless-dev as local servers.
//
// This file holds what the simulators share: fault injection and call counts.
package fakecloud

import (
	"maps"
	"math/rand/v2"
	"sync"
	"time"
)

// Faults are injected into a simulator's answers.
type Faults struct {
	// Throttle is the share of calls (0-1) answered with the cloud's throttling error.
	Throttle float64
	// ServerError is the share of calls answered with a 5xx error.
	ServerError float64
	// Latency is added to every call.
	Latency time.Duration
	// Conflict is the share of writes that fail with the cloud's
	// concurrency error (GCP: 409 ABORTED etag mismatch; Azure: 409
	// concurrent credential writes), on top of real conflicts.
	Conflict float64
}

// Injector decides, call by call, which fault to inject. Safe for concurrent use.
type Injector struct {
	mu     sync.Mutex
	faults Faults
	rnd    *rand.Rand
}

// NewInjector returns an injector with a fixed seed, so runs are repeatable.
func NewInjector(seed uint64) *Injector {
	return &Injector{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Set replaces the faults.
func (i *Injector) Set(f Faults) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.faults = f
}

// Faults returns the current faults.
func (i *Injector) Faults() Faults {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.faults
}

// Roll returns true with probability p.
func (i *Injector) Roll(p float64) bool {
	if p <= 0 {
		return false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.rnd.Float64() < p
}

// Delay sleeps for the configured latency.
func (i *Injector) Delay() {
	if d := i.Faults().Latency; d > 0 {
		time.Sleep(d)
	}
}

// Calls counts calls by operation name. Safe for concurrent use.
type Calls struct {
	mu sync.Mutex
	m  map[string]int
}

// Inc counts one call of op.
func (c *Calls) Inc(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[op]++
}

// Snapshot returns the counts so far.
func (c *Calls) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.m)
}
