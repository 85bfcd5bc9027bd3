package main

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	th "github.com/keyless-dev/keyless/test/harness"
)

// TestSoakAndFailover runs the chaos soak with tiny sizes and the leader
// failover with a handful of connections against one control plane each.
func TestSoakAndFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and keyless processes")
	}
	mod, err := th.ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	// Build keyless once for both runs.
	dir := t.TempDir()
	bin, err := th.BuildKeyless(mod, dir)
	if err != nil {
		t.Fatal(err)
	}
	logf := func(f string, a ...any) { t.Logf(f, a...) }
	var logs *os.File
	if os.Getenv("SOAK_VERBOSE") != "" {
		logs = os.Stderr
	}
	base := runConfig{Lease: 4 * time.Second, Resync: 30 * time.Second, Converge: 60 * time.Second, Seed: 7, Binary: bin,
		KillMin: time.Second, KillMax: 3 * time.Second, Churn: 150 * time.Millisecond}

	t.Run("soak", func(t *testing.T) {
		c := base
		c.Mode, c.Connections, c.Kills = "soak", 20, 2
		out, err := run(context.Background(), c, writerOrNil(logs), logf)
		t.Log("\n" + out)
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("failover", func(t *testing.T) {
		c := base
		c.Mode, c.Connections = "failover", 5
		out, err := run(context.Background(), c, writerOrNil(logs), logf)
		t.Log("\n" + out)
		if err != nil {
			t.Fatal(err)
		}
	})
}

func writerOrNil(f *os.File) io.Writer {
	if f == nil {
		return nil
	}
	return f
}
