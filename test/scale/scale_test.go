package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestScaleRuns checks only that the scale harness runs end to end: 50
// connections, no latency, no goal checked.
func TestScaleRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and builds keyless")
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("..", "..", "bin", "control-plane")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		t.Skipf("no control plane in %s", assets)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := run(ctx, config{Mode: "scale", Connections: 50, QPS: 200, Workers: 8, Resync: time.Hour,
		Timeout: time.Minute, SkipResync: true, Logf: t.Logf})
	t.Log("\n" + out)
	if err != nil && out == "" {
		t.Fatal(err)
	}
	if out == "" {
		t.Fatal("no result")
	}
}
