package devcmd

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/devenv"
)

// lockedBuffer collects output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRun runs keyless-dev as `make dev` does, on the local cluster's
// binaries: it applies the examples, reports what Keyless did, prints the
// ready line with a kubeconfig that exists, and stops cleanly.
func TestRun(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets, _ = filepath.Abs(filepath.Join("..", "..", "bin", "control-plane"))
	}
	if err := devenv.CheckAssets(assets); err != nil {
		t.Skip(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "dev", "kubeconfig")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--assets", assets, "--kubeconfig-out", kubeconfig}, io.MultiWriter(pw, &stdout), &stderr)
		_ = pw.Close()
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), ReadyLine) {
				ready <- sc.Text()
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case line := <-ready:
		if want := ReadyLine + " kubeconfig=" + kubeconfig; line != want {
			t.Errorf("ready line %q, want %q", line, want)
		}
	case err := <-done:
		t.Fatalf("keyless-dev stopped before it was ready: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("no ready line within 3m\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}
	out := stdout.String()
	for _, want := range []string{
		"Applied deploy/examples; Keyless changed in the cluster:",
		"ServiceAccount orders/orders-api (created by Keyless for Deployment/orders-api):",
		"Pod orders/",
		"Deployment orders/orders-api: restarted at",
		"and in the simulated clouds:",
		"AWS   pod identity association",
		"Simulated clouds: EKS http://127.0.0.1:",
		"export KUBECONFIG=" + kubeconfig,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("keyless-dev stopped with %v, want no error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("keyless-dev did not stop within 1m of its context ending")
	}
	if s := stderr.String(); strings.Contains(s, "ERROR") || strings.Contains(s, "stopping:") {
		t.Errorf("errors on stderr:\n%s", s)
	}
}
