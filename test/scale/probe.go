package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// probeResult counts the answers to the admission probe.
type probeResult struct {
	Unanswered, Right, Wrong int
	// FirstRight is the time from the probe's start to the first right
	// answer.
	FirstRight time.Duration
}

func (r probeResult) String() string {
	return fmt.Sprintf("%d unanswered (webhook not serving), %d right (the first after %s), %d wrong",
		r.Unanswered, r.Right, r.FirstRight.Round(time.Millisecond), r.Wrong)
}

// probe dry-runs, every 100 ms until ctx ends, the creation of a Deployment
// that runs as ServiceAccount app-00000 of ns with an IAM role other than
// the one Deployment app-00000 connects it to. The right answer, a denial
// for the conflict, needs the webhook's cache of workloads: an empty or
// partial cache would allow it. Until the webhook serves, the API server
// fails the call closed: unanswered.
func probe(ctx context.Context, h *harness, ns string) probeResult {
	start := time.Now()
	var r probeResult
	for {
		d := deployment(ns, "probe", "app-00000", map[string]string{annotations.KeyAWSRole: fmt.Sprintf("mem-role-%d", memRoles+1)})
		err := h.K8s.Create(ctx, d, client.DryRunAll)
		if ctx.Err() != nil {
			return r
		}
		switch {
		case err == nil:
			r.Wrong++
		case strings.Contains(err.Error(), "is already connected to"):
			if r.Right == 0 {
				r.FirstRight = time.Since(start)
			}
			r.Right++
		default:
			r.Unanswered++
		}
		select {
		case <-ctx.Done():
			return r
		case <-time.After(100 * time.Millisecond):
		}
	}
}
