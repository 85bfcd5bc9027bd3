// Package policystore keeps the connection policy in force: it loads the
// policy file given by flag, reloads it when it changes, and keeps the last
// good policy when a new version is invalid or the file disappears.
package policystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/keyless-dev/keyless/pkg/policy"
)

// Metrics, registered in controller-runtime's registry:
//
//	keyless_policy_reloads_total{result}
//	    policy file loads; result is "loaded", "rejected" (invalid; the
//	    last good policy stays) or "missing" (the file went; the last good
//	    policy stays).
//	keyless_policy_violations_total{rule,mode,where}
//	    violations found; where is "admission" or "reconcile". Rule names
//	    come from the platform team's policy, a short list.
var (
	reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyless_policy_reloads_total",
		Help: "Policy file loads by result (loaded, rejected, missing).",
	}, []string{"result"})
	violations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyless_policy_violations_total",
		Help: "Policy violations by rule, mode and where they were found (admission, reconcile).",
	}, []string{"rule", "mode", "where"})
)

func init() { metrics.Registry.MustRegister(reloads, violations) }

// RecordViolation counts one violation found at where.
func RecordViolation(v policy.Violation, where string) {
	violations.WithLabelValues(v.Rule, string(v.Mode), where).Inc()
}

// Store holds the policy in force. Safe for concurrent use.
type Store struct {
	path     string
	interval time.Duration
	log      logr.Logger
	// OnReject is told about an invalid new version (the last good stays).
	OnReject func(err error)
	// OnLoad is told about a new version in force.
	OnLoad func()
	// OnMissing is told that the file disappeared (the last good stays).
	OnMissing func()

	current atomic.Pointer[policy.Policy]
	mu      sync.Mutex // guards raw and pending
	raw     []byte
	// pending is a changed version seen once; it is applied when the next
	// poll reads the same bytes, so that a file caught half-written (or
	// truncated, which would read as "empty: the default") is never loaded.
	pending []byte
	seen    bool
	// hadFile: the policy in force came from the file, not from its
	// absence at start; missing: its loss has been reported.
	hadFile, missing bool
}

// errMissing marks a policy file that does not exist.
var errMissing = errors.New("policy file missing")

// New loads the policy at path. An empty path, a missing file or an empty
// file mean the default policy, never "allow everything". An invalid file
// is an error: Keyless does not start on a policy it cannot read. Only at
// start does a missing file mean the default: once a file has been loaded,
// its disappearance keeps the last good policy (see Reload).
func New(path string, interval time.Duration, log logr.Logger) (*Store, error) {
	s := &Store{path: path, interval: interval, log: log}
	raw, err := s.read()
	switch {
	case errors.Is(err, errMissing):
		log.Info("policy file not found; the default policy is in force until it appears", "path", path)
	case err != nil:
		return nil, err
	default:
		s.hadFile = path != ""
	}
	p, err := policy.ParseNamed(path, raw)
	if err != nil {
		return nil, fmt.Errorf("invalid policy file: %w", err)
	}
	s.current.Store(p)
	s.raw = raw
	return s, nil
}

// Current is the policy in force.
func (s *Store) Current() *policy.Policy { return s.current.Load() }

func (s *Store) read() ([]byte, error) {
	if s.path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errMissing
	}
	if err != nil {
		return nil, fmt.Errorf("reading policy file: %w", err)
	}
	return raw, nil
}

// Start polls the file until ctx ends. Polling, rather than file events,
// follows the symlink swaps with which the kubelet updates a mounted
// ConfigMap.
func (s *Store) Start(ctx context.Context) error {
	if s.path == "" {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.Reload()
		}
	}
}

// NeedLeaderElection is false: every replica's webhook needs the policy.
func (s *Store) NeedLeaderElection() bool { return false }

// Reload reads the file again and, when it changed, read the same on the
// previous call, and is valid, puts it in force. A file that disappeared
// (its ConfigMap key renamed or dropped) changes nothing: the last good
// policy stays, and the loss is reported once.
func (s *Store) Reload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := s.read()
	if errors.Is(err, errMissing) {
		s.seen = false
		if s.hadFile && !s.missing {
			s.missing = true
			reloads.WithLabelValues("missing").Inc()
			s.log.Error(err, "policy file is missing; the last good policy stays in force", "path", s.path)
			if s.OnMissing != nil {
				s.OnMissing()
			}
		}
		return
	}
	if s.missing {
		s.missing = false
		s.log.Info("policy file is back", "path", s.path)
	}
	if err == nil && bytes.Equal(raw, s.raw) {
		s.seen = false
		return
	}
	if err == nil && (!s.seen || !bytes.Equal(raw, s.pending)) {
		s.pending, s.seen = raw, true
		return
	}
	s.seen = false
	var p *policy.Policy
	if err == nil {
		p, err = policy.ParseNamed(s.path, raw)
	}
	s.raw = raw
	if err != nil {
		reloads.WithLabelValues("rejected").Inc()
		s.log.Error(err, "new policy rejected; the last good policy stays in force", "path", s.path)
		if s.OnReject != nil {
			s.OnReject(err)
		}
		return
	}
	s.current.Store(p)
	s.hadFile = true
	reloads.WithLabelValues("loaded").Inc()
	s.log.Info("policy loaded", "path", s.path, "rules", len(p.Rules()))
	if s.OnLoad != nil {
		s.OnLoad()
	}
}
