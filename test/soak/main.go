// Command soak runs Keyless as a child process against a local control plane
// and the three cloud simulators, under injected cloud faults, random
// kill -9s and constant churn of connections, and then checks that the
// cluster and the clouds agree. With --mode=failover it runs two replicas,
// kills the leader during a burst and measures the takeover.
//
//	go run ./test/soak                      # 500 connections, 10 kills
//	go run ./test/soak --connections=20 --kills=2
//	go run ./test/soak --mode=failover --connections=30
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	th "github.com/keyless-dev/keyless/test/harness"
)

func main() { os.Exit(soakMain()) }

// soakMain returns the exit code, so that its deferred Close runs first.
func soakMain() int {
	var (
		mode    = flag.String("mode", "soak", "soak, failover or inputs (bad inputs and the messages users see)")
		n       = flag.Int("connections", 0, "ServiceAccounts to connect (default 500 for soak, 30 for failover)")
		kills   = flag.Int("kills", 10, "kill -9s of keyless during the soak")
		minKill = flag.Duration("kill-min", 2*time.Second, "shortest time from readiness to the next kill")
		maxKill = flag.Duration("kill-max", 8*time.Second, "longest time from readiness to the next kill")
		churn   = flag.Duration("churn-interval", 150*time.Millisecond, "time between two changes of connections")
		conv    = flag.Duration("converge", 5*time.Minute, "how long to wait for convergence once the faults are cleared")
		lease   = flag.Duration("lease", 4*time.Second, "--leader-election-lease-duration of keyless")
		resync  = flag.Duration("resync-period", 30*time.Second, "--resync-period of keyless")
		seed    = flag.Uint64("seed", 1, "random seed of the scenario")
		assets  = flag.String("assets", "", "folder of etcd and kube-apiserver (default $KUBEBUILDER_ASSETS or bin/control-plane)")
		bin     = flag.String("keyless", "", "a built keyless binary (default: go build ./cmd/keyless)")
		verbose = flag.Bool("v", false, "stream keyless's logs to stderr")
		logFile = flag.String("log", "", "write keyless's logs to this file")
	)
	flag.Parse()
	var logs io.Writer
	if *verbose {
		logs = os.Stderr
	} else if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer f.Close()
		logs = f
	}
	if *n == 0 {
		*n = map[bool]int{true: 30, false: 500}[*mode == "failover"]
	}
	cfg := runConfig{Mode: *mode, Connections: *n, Kills: *kills, KillMin: *minKill, KillMax: *maxKill, Churn: *churn,
		Converge: *conv, Lease: *lease, Resync: *resync, Seed: *seed, Assets: *assets, Binary: *bin}
	out, err := run(context.Background(), cfg, logs, func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s "+f+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
	})
	fmt.Print(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	fmt.Println("PASS")
	return 0
}

type runConfig struct {
	Mode                    string
	Connections, Kills      int
	KillMin, KillMax, Churn time.Duration
	Converge, Lease, Resync time.Duration
	Seed                    uint64
	Assets, Binary          string
}

// run runs one mode and returns the printed results; err is non-nil on any mismatch.
func run(ctx context.Context, c runConfig, logs io.Writer, logf func(string, ...any)) (string, error) {
	mod, err := th.ModuleDir()
	if err != nil {
		return "", err
	}
	if c.Assets == "" {
		c.Assets = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if c.Assets == "" {
		c.Assets = filepath.Join(mod, "bin", "control-plane")
	}
	h, err := startHarness(th.Options{Assets: c.Assets, Binary: c.Binary, ModuleDir: mod, Lease: c.Lease, Resync: c.Resync, Logf: logf})
	if err != nil {
		return "", err
	}
	defer h.Stop()
	var b strings.Builder
	switch c.Mode {
	case "soak":
		r, err := runSoak(ctx, h, soakOptions{Connections: c.Connections, Kills: c.Kills, KillMin: c.KillMin, KillMax: c.KillMax,
			ChurnInterval: c.Churn, Converge: c.Converge, Seed: c.Seed}, logs)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "soak: connections=%d kills=%d elapsed=%s converged-after-faults-cleared=%s\n",
			c.Connections, r.Kills, r.Elapsed.Round(time.Second), r.Converged.Round(time.Second))
		fmt.Fprintf(&b, "changes: %s\n", th.FormatCounts(r.Ops))
		b.WriteString(r.Report.String())
		for _, cl := range clouds {
			fmt.Fprintf(&b, "calls %s: %s\n", cl, th.FormatCounts(r.Calls[cl]))
		}
		if r.Report.bad() > 0 {
			return b.String(), errMismatch
		}
		if r.Kills != c.Kills {
			return b.String(), fmt.Errorf("%d kills, want %d", r.Kills, c.Kills)
		}
	case "failover":
		r, err := runFailover(ctx, h, failoverOptions{Connections: c.Connections, Converge: c.Converge}, logs)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "failover: connections=%d killed=%s objects-at-kill=%d/%d\n", c.Connections, r.Killed, r.ObjectsAtKill, 3*c.Connections)
		fmt.Fprintf(&b, "holder before: %s\nholder after:  %s\n", r.OldHolder, r.NewHolder)
		fmt.Fprintf(&b, "takeover=%s bound=%s (lease %s + renew deadline %s) elapsed=%s\n", r.Takeover.Round(time.Millisecond),
			r.Bound, c.Lease, c.Lease*2/3, r.Elapsed.Round(time.Second))
		fmt.Fprintf(&b, "writes per cloud (associations created, credential PUTs applied, SetIamPolicy calls): %s for %d connections each\n", th.FormatCounts(r.Creates), c.Connections)
		b.WriteString(r.Report.String())
		for _, cl := range clouds {
			fmt.Fprintf(&b, "calls %s: %s\n", cl, th.FormatCounts(r.Calls[cl]))
		}
		var errs []error
		if r.Report.bad() > 0 {
			errs = append(errs, errMismatch)
		}
		if r.Takeover > r.Bound {
			errs = append(errs, fmt.Errorf("takeover took %s, more than %s", r.Takeover, r.Bound))
		}
		for _, x := range r.ExtraWrites {
			errs = append(errs, errors.New("a cloud object was written more than once: "+x))
		}
		return b.String(), errors.Join(errs...)
	case "inputs":
		out, err := runInputs(ctx, h, logs)
		return out, err
	default:
		return "", fmt.Errorf("unknown --mode %q: soak, failover or inputs", c.Mode)
	}
	return b.String(), nil
}
