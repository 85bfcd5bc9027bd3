package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the orchestrator re-execute the test binary as its children.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := run(context.Background(), os.Args[1:]); err != nil {
			os.Stderr.WriteString("load: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs the whole benchmark briefly. It checks only that every cell
// reports numbers; it never asserts on speed.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	rep, err := runAll(ctx, []string{"-duration", "200ms", "-warmup", "50ms", "-rounds", "1", "-concurrency", "1,4"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if len(rep) != 2*2*2 {
		t.Fatalf("%d cells, want 8", len(rep))
	}
	for c, rs := range rep {
		for _, r := range rs {
			if r.Requests <= 0 || r.RPS <= 0 || r.P50 <= 0 || r.P99 <= 0 || r.CPUPerReq <= 0 || r.Errors > 0 {
				t.Errorf("%+v: %+v", c, r)
			}
		}
	}
	if !strings.Contains(out.String(), "rps ratio") {
		t.Errorf("no table:\n%s", out.String())
	}
}
